//! `ratios.svg`: per row with something to plot, a bar per uzmq variant,
//! higher is better (throughput ratios, raw/uzmq for latency and for CPU
//! per message, W5's received/sent, W3/W8 for the idle handles), with each
//! row's target as a red dash; drawn with plotters' SVG backend.

use plotters::prelude::*;

use super::Variant;
use super::report::Row;

/// One color per uzmq variant (the floor and the five handle kinds).
const COLORS: [RGBColor; 6] = [
    RGBColor(0x4c, 0x72, 0xb0),
    RGBColor(0xdd, 0x84, 0x52),
    RGBColor(0x55, 0xa8, 0x68),
    RGBColor(0x81, 0x72, 0xb3),
    RGBColor(0x93, 0x78, 0x60),
    RGBColor(0xda, 0x8b, 0xc3),
];

/// Where each legend entry starts, left to right: at least 160 px apart,
/// more for a long title (12 px sans-serif, about 7 px a character); and
/// where the last one ends.
fn legend_layout(vs: &[Variant]) -> (Vec<i32>, i32) {
    let mut x = 60;
    let mut starts = Vec::with_capacity(vs.len());
    for v in vs {
        starts.push(x);
        x += (16 + 7 * v.title().chars().count() as i32 + 24).max(160);
    }
    (starts, x)
}

/// The plot as SVG text; `mode` (`quick`, `full`) goes into the title.
pub fn svg(mode: &str, rows: &[Row]) -> Result<String, String> {
    let vs: Vec<Variant> = Variant::uzmq_all()
        .filter(|v| rows.iter().any(|r| r.medians.iter().any(|(x, _)| x == v)))
        .collect();
    let groups: Vec<&Row> = rows
        .iter()
        .filter(|r| vs.iter().any(|v| r.plotted(*v).is_some()))
        .collect();
    let bar_w = 36u32;
    let group_w = 40 + bar_w * vs.len().max(1) as u32;
    let (legend_x, legend_end) = legend_layout(&vs);
    // Wide enough for the legend too (its note is about 620 px).
    let width =
        (120 + group_w * groups.len().max(1) as u32).max(legend_end.max(680).unsigned_abs());
    let height = 460u32;
    let y_max = groups
        .iter()
        .flat_map(|r| vs.iter().filter_map(|v| r.plotted(*v).map(|(x, _)| x)))
        .fold(1.2_f64, f64::max)
        .min(3.0);
    let y_max = (y_max * 10.0).ceil() / 10.0;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot, legend) = root.split_vertically(height - 50);
        let mut chart = ChartBuilder::on(&plot)
            .caption(
                format!("uzmq vs raw libzmq ({mode} run, medians; higher is better)"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..groups.len().max(1) as f64, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        let labels: Vec<String> = groups.iter().map(|r| r.short.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(groups.len().max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                // Labels sit at the middle of each group.
                let i = x.floor();
                if (x - i - 0.5).abs() < 1e-6 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc("ratio (higher is better)")
            .draw()
            .map_err(|e| e.to_string())?;
        let slot = 1.0 / (vs.len() as f64 + 1.0);
        for (gi, row) in groups.iter().enumerate() {
            for (vi, v) in vs.iter().enumerate() {
                let x0 = gi as f64 + slot * (vi as f64 + 0.5);
                let color = COLORS[vi % COLORS.len()];
                if let Some((value, _)) = row.plotted(*v) {
                    let top = value.clamp(0.0, y_max);
                    chart
                        .draw_series([Rectangle::new(
                            [(x0, 0.0), (x0 + slot * 0.9, top)],
                            color.filled(),
                        )])
                        .map_err(|e| e.to_string())?;
                    chart
                        .draw_series([Text::new(
                            format!("{value:.2}"),
                            (x0, top + y_max * 0.03),
                            ("sans-serif", 10),
                        )])
                        .map_err(|e| e.to_string())?;
                }
            }
            if let Some(target) = vs.iter().find_map(|v| row.plotted(*v).and_then(|(_, t)| t)) {
                chart
                    .draw_series([PathElement::new(
                        vec![(gi as f64 + 0.05, target), (gi as f64 + 0.95, target)],
                        RED.stroke_width(2),
                    )])
                    .map_err(|e| e.to_string())?;
            }
        }
        for (vi, (v, x)) in vs.iter().zip(legend_x).enumerate() {
            legend
                .draw(&Rectangle::new(
                    [(x, 8), (x + 12, 20)],
                    COLORS[vi % COLORS.len()].filled(),
                ))
                .map_err(|e| e.to_string())?;
            legend
                .draw(&Text::new(v.title(), (x + 16, 8), ("sans-serif", 12)))
                .map_err(|e| e.to_string())?;
        }
        legend
            .draw(&Text::new(
                "red: target. W1/W2/W6/W7: uzmq/raw msg/s; W3 and CPU rows: raw/uzmq; W5: received/sent; W8/W3: W3 mean / W8 mean",
                (60, 30),
                ("sans-serif", 10),
            ))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}
