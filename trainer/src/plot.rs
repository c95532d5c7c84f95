//! Learning curves as PNG, drawn with plotters' bitmap backend and a bundled
//! font (DejaVu Sans), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::files::{commit_temp, temp_path};
use crate::metrics::EpochRecord;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The bytes are a valid TrueType font shipped by the `dejavu` crate.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

/// Draws training and validation loss per epoch (and validation accuracy
/// when present) into a PNG at `path`, written atomically.
pub fn learning_curves(path: &Path, title: &str, history: &[EpochRecord]) -> Result<()> {
    register_font();
    let err = |e: &dyn std::fmt::Display| Error::Plot { path: path.to_owned(), reason: e.to_string() };
    let (w, h) = (900u32, 500u32);
    let tmp = temp_path(path);
    {
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let has_acc = history.iter().any(|r| r.val_accuracy.is_some());
        let areas = if has_acc { root.split_evenly((1, 2)) } else { vec![root.clone()] };
        let n = history.len().max(2) as f64;
        let losses = history.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|x| x.is_finite());
        let (lo, hi) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (0.0, 1.0) };
        let pad = (hi - lo) * 0.05;
        let mut chart = ChartBuilder::on(&areas[0])
            .caption(format!("{title}: loss"), ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(1.0..n, (lo - pad)..(hi + pad))
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc("epoch").y_desc("loss").draw().map_err(|e| err(&e))?;
        let series =
            |f: fn(&EpochRecord) -> f64| history.iter().map(move |r| (r.epoch as f64, f(r))).collect::<Vec<_>>();
        chart
            .draw_series(LineSeries::new(series(|r| r.train_loss), &BLUE))
            .map_err(|e| err(&e))?
            .label("train")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        chart
            .draw_series(LineSeries::new(series(|r| r.val_loss), &RED))
            .map_err(|e| err(&e))?
            .label("validation")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        if has_acc {
            let accs: Vec<(f64, f64)> =
                history.iter().filter_map(|r| r.val_accuracy.map(|a| (r.epoch as f64, a))).collect();
            let (alo, ahi) = accs.iter().fold((1.0f64, 0.0f64), |(a, b), &(_, x)| (a.min(x), b.max(x)));
            let (alo, ahi) = if ahi > alo { (alo - 0.01, ahi + 0.01) } else { (alo - 0.05, alo + 0.05) };
            let mut chart = ChartBuilder::on(&areas[1])
                .caption("validation accuracy", ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(55)
                .build_cartesian_2d(1.0..n, alo..ahi)
                .map_err(|e| err(&e))?;
            chart.configure_mesh().x_desc("epoch").draw().map_err(|e| err(&e))?;
            chart.draw_series(LineSeries::new(accs, &GREEN)).map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    commit_temp(&tmp, path)
}
