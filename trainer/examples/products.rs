//! The trainer's matrix products at the shapes of `trainer bench`'s
//! workloads: GFLOP/s of `linalg::matmul_packed` (the right matrix packed
//! once, as the LSTM's recurrent weights are) and of `linalg::matmul` (packed
//! at every call), and of `gemm` itself at the per-step shapes, in one run.
//!
//! `cargo run --release -p trainer --example products`

use std::time::Instant;

use trainer::linalg::{gemm_reference, matmul, matmul_packed, Mat, PackedRhs};

fn rate(m: usize, n: usize, k: usize, mut f: impl FnMut()) -> f64 {
    f(); // first touch of the destination
    let reps = (2e9 / (m * n * k) as f64).clamp(3.0, 2000.0) as usize;
    let t = Instant::now();
    (0..reps).for_each(|_| f());
    2.0 * (m * n * k) as f64 * reps as f64 / t.elapsed().as_secs_f64() / 1e9
}

fn main() {
    println!("kernel: {:?}", trainer::linalg::Kernel::detect());
    let shapes = [
        ("recurrent step forward (b)", 64, 128, 512, false),
        ("recurrent step backward (b)", 64, 512, 128, false),
        ("dW_h (b)", 512, 6336, 128, true),
        ("dense head (b)", 6400, 128, 65, false),
        ("input product (a)", 20000, 64, 512, false),
        ("dW_x (a)", 512, 20000, 64, true),
        ("dW_h (a)", 512, 19900, 128, true),
        ("dx (a)", 20000, 512, 64, false),
    ];
    for (name, m, k, n, transposed) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let am = if transposed { Mat::new(&a, k, m).t() } else { Mat::new(&a, m, k) };
        let bm = Mat::new(&b, k, n);
        let packed = PackedRhs::new(bm);
        let mut d = vec![0.0f32; m * n];
        let own = rate(m, n, k, || matmul_packed(&mut d, am, &packed, true));
        let call = rate(m, n, k, || matmul(&mut d, am, bm, true));
        let gemm = if m <= 64 {
            format!(", gemm {:.0}", rate(m, n, k, || gemm_reference(&mut d, am, bm, true)))
        } else {
            String::new()
        };
        println!("{name:28} {m}x{k}x{n}: packed once {own:.0} GFLOP/s, packed per call {call:.0}{gemm}");
    }
}
