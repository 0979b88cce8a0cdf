//! Draws `docs/order-view-latency.png`: order-view latency against order size, from the
//! medians criterion wrote for the composer bench (`cargo bench -p benches --bench composer`).
//!
//! `cargo run -p benches --bin chart [-- --out PATH]`
//!
//! Reads `<criterion dir>/<group>/<function>/<lines>/new/estimates.json` (`$CRITERION_HOME`,
//! else `$CARGO_TARGET_DIR/criterion`, else `target/criterion`). Text is drawn with DejaVu
//! Sans (`benches/assets/`, Bitstream Vera licence) through ab_glyph, so no system font
//! library is needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use benches::estimates::{criterion_dir, median_in, us};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// The font every label is drawn with.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Order sizes the composer bench measures.
const SIZES: [usize; 4] = [1, 10, 50, 200];

/// One line of the chart: a criterion benchmark across [`SIZES`].
struct Series {
    group: &'static str,
    function: &'static str,
    label: &'static str,
    color: RGBColor,
    dashed: bool,
}

/// What the chart shows: end-to-end strategies solid, the composition core alone dashed.
const SERIES: [Series; 6] = [
    Series {
        group: "order_view_e2e",
        function: "n_plus_1",
        label: "end to end: N+1 (one product GET per line)",
        color: RGBColor(214, 39, 40),
        dashed: false,
    },
    Series {
        group: "order_view_e2e",
        function: "batched",
        label: "end to end: batched, through the WASM composer (edge-host)",
        color: RGBColor(31, 119, 180),
        dashed: false,
    },
    Series {
        group: "order_view_e2e",
        function: "batched_native",
        label: "end to end: batched, same calls, native client and core",
        color: RGBColor(23, 190, 207),
        dashed: false,
    },
    Series {
        group: "compose_core_wasm",
        function: "instance",
        label: "core only: WASM, fresh instance per view",
        color: RGBColor(255, 127, 14),
        dashed: true,
    },
    Series {
        group: "compose_core_wasm",
        function: "in_guest",
        label: "core only: WASM, compose step inside the guest",
        color: RGBColor(148, 103, 189),
        dashed: true,
    },
    Series {
        group: "compose_core_native",
        function: "order_view_json",
        label: "core only: native",
        color: RGBColor(44, 160, 44),
        dashed: true,
    },
];

/// Draws the order-view latency chart from the medians criterion wrote for the composer
/// bench (`cargo bench -p benches --bench composer`).
#[derive(Debug, clap::Parser)]
#[command(name = "chart", about, long_about)]
struct Cli {
    /// Where to write the PNG (default: docs/order-view-latency.png of the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let out = cli.out.unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/order-view-latency.png")
    });
    let dir = criterion_dir();
    let data: Vec<(&Series, Vec<(f64, f64)>)> = SERIES
        .iter()
        .map(|s| {
            let points = SIZES
                .iter()
                .filter_map(|&n| {
                    let m = median_in(&dir, s.group, s.function, &n.to_string())?;
                    Some((n as f64, us(m.time)))
                })
                .collect();
            (s, points)
        })
        .collect();
    if data.iter().all(|(_, p)| p.is_empty()) {
        eprintln!(
            "chart: no composer results under {}; run `cargo bench -p benches --bench composer` \
             first",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    for (s, points) in &data {
        let row: Vec<String> = points
            .iter()
            .map(|(n, t)| format!("{n:.0} lines: {t:.1} µs"))
            .collect();
        println!("{}/{}: {}", s.group, s.function, row.join(", "));
    }
    match draw(&out, &data) {
        Ok(()) => {
            println!("wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chart: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A latency in µs as an axis label.
fn latency_label(us: f64) -> String {
    if us >= 1000.0 {
        format!("{} ms", us / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// Draws the chart into `out` (PNG).
fn draw(out: &Path, data: &[(&Series, Vec<(f64, f64)>)]) -> Result<(), Box<dyn std::error::Error>> {
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the font does not load")?;
    let all = data.iter().flat_map(|(_, p)| p.iter().map(|&(_, t)| t));
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    // Whole decades, so the log axis is labelled at 1, 10, 100 … µs.
    let y_lo = 10f64.powf(lo.log10().floor());
    let y_hi = 10f64.powf(hi.log10().ceil());

    let root = BitMapBackend::new(out, (1200, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let (chart_area, note_area) = root.split_vertically(720);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            "Order view: median latency against order size (log-log)",
            ("sans-serif", 26),
        )
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(90)
        .build_cartesian_2d(
            (0.8f64..260f64)
                .log_scale()
                .with_key_points(SIZES.iter().map(|&n| n as f64).collect()),
            (y_lo..y_hi).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("lines in the order (distinct products)")
        .y_desc("median latency per order view")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| latency_label(*y))
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .draw()?;
    for (s, points) in data {
        if points.is_empty() {
            continue;
        }
        let style = s.color.stroke_width(3);
        if s.dashed {
            chart.draw_series(DashedLineSeries::new(points.iter().copied(), 10, 6, style))?;
        } else {
            chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
        }
        let color = s.color;
        chart
            .draw_series(
                points
                    .iter()
                    .map(move |&(x, y)| Circle::new((x, y), 5, color.filled())),
            )?
            .label(s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    note_area.draw(&Text::new(
        "criterion medians from one run of `cargo bench -p benches --bench composer` on a shared \
         2-vCPU VM; end to end over loopback against the real nodes",
        (20, 10),
        ("sans-serif", 15).into_font().color(&BLACK.mix(0.7)),
    ))?;
    root.present()?;
    Ok(())
}
