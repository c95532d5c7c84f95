//! The baselines a classifier is measured against, on its own split: the
//! majority class, and a linear bag-of-words model (tf-idf of the token
//! ids, sublinear tf, rows of unit length, into a multinomial logistic
//! regression with an L2 penalty, fitted by L-BFGS; the penalty's `C` of
//! 1, 4 or 16 chosen on the validation part). It is what scikit-learn's
//! `TfidfVectorizer(sublinear_tf=True)` and `LogisticRegression(C=C)` do,
//! over the model's own token ids, so a user sees at once whether the LSTM
//! earns its bytes.

use serde::Serialize;

use crate::data::Example;

/// Token ids that are not words: padding (0) and out-of-vocabulary (1).
const FIRST_WORD: u32 = 2;

/// The penalties tried (scikit-learn's `C`: larger is weaker).
const CS: [f64; 3] = [1.0, 4.0, 16.0];

/// Figures of the baselines on the validation and test parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baseline {
    /// The majority class of the training part.
    pub majority_class: usize,
    /// Its share of the validation part.
    pub majority_val_accuracy: f64,
    /// Its share of the test part (`None` without one).
    pub majority_test_accuracy: Option<f64>,
    /// The bag-of-words model's validation accuracy.
    pub tfidf_val_accuracy: f64,
    /// Its test accuracy.
    pub tfidf_test_accuracy: Option<f64>,
    /// The `C` chosen on validation.
    pub c: f64,
}

/// The bag-of-words model, kept to teach the LSTM (`--distill`): its
/// class probabilities for any token ids.
pub struct Teacher {
    tfidf: TfIdf,
    model: LogReg,
}

impl Teacher {
    /// The class probabilities of a text's token ids.
    pub fn probs(&self, ids: &[u32]) -> Vec<f64> {
        let mut s = vec![0.0; self.model.classes];
        self.model.scores(&self.tfidf.row(ids), &mut s);
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        s.iter_mut().for_each(|v| *v = (*v - m).exp());
        let z: f64 = s.iter().sum();
        s.iter_mut().for_each(|v| *v /= z);
        s
    }
}

impl Baseline {
    /// Fits both baselines on `train` (of `classes` classes), chooses `C`
    /// on `valid`, and scores `test` when it is not empty; the fitted
    /// bag-of-words model too.
    pub fn fit(train: &[Example], valid: &[Example], test: &[Example], classes: usize) -> (Baseline, Teacher) {
        let mut counts = vec![0usize; classes];
        train.iter().for_each(|e| counts[e.class] += 1);
        let majority = (0..classes).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).unwrap_or(0);
        let share =
            |set: &[Example]| set.iter().filter(|e| e.class == majority).count() as f64 / set.len().max(1) as f64;
        let tfidf = TfIdf::fit(train);
        let rows = |set: &[Example]| set.iter().map(|e| tfidf.row(&e.ids)).collect::<Vec<_>>();
        let (xt, xv, xs) = (rows(train), rows(valid), rows(test));
        let yt: Vec<usize> = train.iter().map(|e| e.class).collect();
        let mut best: Option<(f64, f64, LogReg)> = None;
        for c in CS {
            let model = LogReg::fit(&xt, &yt, classes, tfidf.width(), c);
            let acc = model.accuracy(&xv, valid);
            if best.as_ref().is_none_or(|(a, _, _)| acc > *a) {
                best = Some((acc, c, model));
            }
        }
        let (val, c, model) = best.expect("three fits");
        let on_test = !test.is_empty();
        let baseline = Baseline {
            majority_class: majority,
            majority_val_accuracy: share(valid),
            majority_test_accuracy: on_test.then(|| share(test)),
            tfidf_val_accuracy: val,
            tfidf_test_accuracy: on_test.then(|| model.accuracy(&xs, test)),
            c,
        };
        (baseline, Teacher { tfidf, model })
    }

    /// One line: the majority class and the bag-of-words model, validation
    /// (and test) accuracy.
    pub fn line(&self, classes: &[String]) -> String {
        let test = |t: Option<f64>| t.map(|a| format!(", test {a:.4}")).unwrap_or_default();
        format!(
            "baselines on the same split: majority class ({}) validation {:.4}{}; tf-idf + logistic regression \
             (C={}) validation {:.4}{}",
            classes.get(self.majority_class).map_or("?", String::as_str),
            self.majority_val_accuracy,
            test(self.majority_test_accuracy),
            self.c,
            self.tfidf_val_accuracy,
            test(self.tfidf_test_accuracy),
        )
    }
}

/// A sparse row: (feature, value), features ascending.
type Row = Vec<(u32, f32)>;

/// Tf-idf of token ids, as scikit-learn's `TfidfVectorizer(sublinear_tf =
/// True)`: `(1 + ln tf) * idf`, `idf = ln((1 + n) / (1 + df)) + 1`, each
/// row scaled to unit length.
struct TfIdf {
    idf: Vec<f32>,
}

impl TfIdf {
    fn fit(train: &[Example]) -> TfIdf {
        let width = train.iter().flat_map(|e| e.ids.iter()).max().map_or(0, |&m| m as usize + 1);
        let mut df = vec![0u32; width];
        let mut seen = Vec::new();
        for e in train {
            seen.clear();
            seen.extend(e.ids.iter().copied().filter(|&id| id >= FIRST_WORD));
            seen.sort_unstable();
            seen.dedup();
            seen.iter().for_each(|&id| df[id as usize] += 1);
        }
        let n = train.len() as f64;
        let idf = df
            .iter()
            .map(|&d| if d == 0 { 0.0 } else { ((1.0 + n) / (1.0 + f64::from(d))).ln() as f32 + 1.0 })
            .collect();
        TfIdf { idf }
    }

    fn width(&self) -> usize {
        self.idf.len()
    }

    fn row(&self, ids: &[u32]) -> Row {
        let mut ids: Vec<u32> =
            ids.iter().copied().filter(|&id| id >= FIRST_WORD && (id as usize) < self.idf.len()).collect();
        ids.sort_unstable();
        let mut row: Row = Vec::new();
        for run in ids.chunk_by(|a, b| a == b) {
            let w = (1.0 + (run.len() as f32).ln()) * self.idf[run[0] as usize];
            if w > 0.0 {
                row.push((run[0], w));
            }
        }
        let norm = row.iter().map(|&(_, v)| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|(_, v)| *v = (f64::from(*v) / norm) as f32);
        }
        row
    }
}

/// Multinomial logistic regression: `classes x width` weights and a bias
/// each, fitted to minimise `C * sum of cross-entropies + |W|^2 / 2` (the
/// biases not penalised).
struct LogReg {
    classes: usize,
    width: usize,
    /// Weights (class-major), then the biases.
    theta: Vec<f64>,
}

impl LogReg {
    fn fit(x: &[Row], y: &[usize], classes: usize, width: usize, c: f64) -> LogReg {
        let dim = classes * width + classes;
        let f = |theta: &[f64], grad: &mut [f64]| objective(theta, grad, x, y, classes, width, c);
        let theta = lbfgs(vec![0.0; dim], f, 300);
        LogReg { classes, width, theta }
    }

    fn scores(&self, row: &Row, out: &mut [f64]) {
        scores(&self.theta, row, self.classes, self.width, out)
    }

    fn accuracy(&self, x: &[Row], set: &[Example]) -> f64 {
        let mut s = vec![0.0; self.classes];
        let right = x
            .iter()
            .zip(set)
            .filter(|(row, e)| {
                self.scores(row, &mut s);
                argmax(&s) == e.class
            })
            .count();
        right as f64 / set.len().max(1) as f64
    }
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

fn scores(theta: &[f64], row: &Row, classes: usize, width: usize, out: &mut [f64]) {
    for (k, o) in out.iter_mut().enumerate() {
        let w = &theta[k * width..(k + 1) * width];
        *o = theta[classes * width + k] + row.iter().map(|&(j, v)| w[j as usize] * f64::from(v)).sum::<f64>();
    }
}

/// The objective and its gradient at `theta`.
fn objective(theta: &[f64], grad: &mut [f64], x: &[Row], y: &[usize], classes: usize, width: usize, c: f64) -> f64 {
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut s = vec![0.0; classes];
    let mut loss = 0.0;
    for (row, &t) in x.iter().zip(y) {
        scores(theta, row, classes, width, &mut s);
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|v| (v - m).exp()).sum();
        loss += m + z.ln() - s[t];
        for (k, &sk) in s.iter().enumerate() {
            let p = (sk - m).exp() / z - if k == t { 1.0 } else { 0.0 };
            let g = c * p;
            grad[classes * width + k] += g;
            let gw = &mut grad[k * width..(k + 1) * width];
            row.iter().for_each(|&(j, v)| gw[j as usize] += g * f64::from(v));
        }
    }
    let w = &theta[..classes * width];
    grad[..classes * width].iter_mut().zip(w).for_each(|(g, w)| *g += w);
    c * loss + 0.5 * w.iter().map(|w| w * w).sum::<f64>()
}

/// Minimises `f` (which writes its gradient) from `x` by L-BFGS (ten
/// pairs, a backtracking line search) for at most `iters` iterations or
/// until the gradient is small.
fn lbfgs(mut x: Vec<f64>, mut f: impl FnMut(&[f64], &mut [f64]) -> f64, iters: usize) -> Vec<f64> {
    const M: usize = 10;
    let n = x.len();
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let mut g = vec![0.0; n];
    let mut fx = f(&x, &mut g);
    let (mut ss, mut ys): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let g0 = dot(&g, &g).sqrt().max(1e-12);
    let mut xn = vec![0.0; n];
    let mut gn = vec![0.0; n];
    for _ in 0..iters {
        if dot(&g, &g).sqrt() < 1e-5 * g0 {
            break;
        }
        // The two-loop recursion: d = -H g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alpha = vec![0.0; ss.len()];
        for i in (0..ss.len()).rev() {
            alpha[i] = dot(&ss[i], &d) / dot(&ys[i], &ss[i]);
            d.iter_mut().zip(&ys[i]).for_each(|(d, y)| *d -= alpha[i] * y);
        }
        if let (Some(s), Some(y)) = (ss.last(), ys.last()) {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|d| *d *= gamma);
        } else {
            let scale = 1.0 / dot(&g, &g).sqrt().max(1e-12);
            d.iter_mut().for_each(|d| *d *= scale);
        }
        for i in 0..ss.len() {
            let beta = dot(&ys[i], &d) / dot(&ys[i], &ss[i]);
            d.iter_mut().zip(&ss[i]).for_each(|(d, s)| *d += (alpha[i] - beta) * s);
        }
        let slope = dot(&g, &d);
        if slope >= 0.0 {
            ss.clear();
            ys.clear();
            continue;
        }
        let mut step = 1.0;
        let fn_ = loop {
            xn.iter_mut().zip(&x).zip(&d).for_each(|((n, x), d)| *n = x + step * d);
            let v = f(&xn, &mut gn);
            if v <= fx + 1e-4 * step * slope || step < 1e-10 {
                break v;
            }
            step *= 0.5;
        };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let converged = (fx - fn_).abs() <= 1e-10 * fx.abs().max(1.0);
        if dot(&s, &y) > 1e-12 {
            if ss.len() == M {
                ss.remove(0);
                ys.remove(0);
            }
            ss.push(s);
            ys.push(y);
        }
        std::mem::swap(&mut x, &mut xn);
        std::mem::swap(&mut g, &mut gn);
        fx = fn_;
        if converged {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(ids: &[u32], class: usize) -> Example {
        Example { ids: ids.to_vec(), class }
    }

    /// Tf-idf by hand: three texts, ids 2, 3, 4; the OOV id is no feature.
    #[test]
    fn tfidf_is_sklearns() {
        let train = [ex(&[2, 2, 3, 1], 0), ex(&[3, 4], 1), ex(&[4, 4, 4], 1)];
        let t = TfIdf::fit(&train);
        // n = 3; df(2) = 1, df(3) = 2, df(4) = 2.
        let idf = |df: f64| ((1.0 + 3.0) / (1.0 + df)).ln() + 1.0;
        assert!((f64::from(t.idf[2]) - idf(1.0)).abs() < 1e-6 && (f64::from(t.idf[3]) - idf(2.0)).abs() < 1e-6);
        let row = t.row(&[2, 2, 3, 1]);
        let (a, b) = ((1.0 + 2f64.ln()) * idf(1.0), idf(2.0));
        let n = (a * a + b * b).sqrt();
        assert_eq!(row.iter().map(|&(j, _)| j).collect::<Vec<_>>(), [2, 3]);
        assert!((f64::from(row[0].1) - a / n).abs() < 1e-6 && (f64::from(row[1].1) - b / n).abs() < 1e-6);
    }

    /// The fit reaches the minimum: the gradient vanishes, and a
    /// separable set is learnt.
    #[test]
    fn logistic_regression_minimises_its_objective() {
        let train: Vec<Example> =
            (0..60).map(|i| ex(&[2 + (i % 3) as u32, 5 + (i % 2) as u32 * 3 + (i % 3) as u32], i % 3)).collect();
        let t = TfIdf::fit(&train);
        let x: Vec<Row> = train.iter().map(|e| t.row(&e.ids)).collect();
        let y: Vec<usize> = train.iter().map(|e| e.class).collect();
        let m = LogReg::fit(&x, &y, 3, t.width(), 4.0);
        let mut g = vec![0.0; m.theta.len()];
        let f0 = objective(&m.theta, &mut g, &x, &y, 3, t.width(), 4.0);
        let gn = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert!(gn < 1e-3, "gradient norm {gn} at the minimum");
        let mut g2 = g.clone();
        let moved: Vec<f64> = m.theta.iter().map(|v| v + 1e-3).collect();
        assert!(objective(&moved, &mut g2, &x, &y, 3, t.width(), 4.0) > f0);
        assert_eq!(m.accuracy(&x, &train), 1.0);
        let (b, teacher) = Baseline::fit(&train, &train, &[], 3);
        let p = teacher.probs(&train[4].ids);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9 && argmax(&p) == train[4].class);
        assert_eq!((b.majority_class, b.tfidf_val_accuracy, b.tfidf_test_accuracy), (0, 1.0, None));
        assert!((b.majority_val_accuracy - 1.0 / 3.0).abs() < 1e-9);
    }
}
