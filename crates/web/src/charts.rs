//! Small bar charts drawn as inline SVG (no script, no library at run time):
//! grouped bars per label with a value axis, each bar titled with its
//! number, and a text alternative the page shows beside it as a table.

/// One bar of a chart.
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// `s0`, `s1`…: the series (colour in the stylesheet).
    pub class: &'static str,
    pub title: String,
}

/// A label under a group, or a tick on the value axis.
pub struct Label {
    pub x: f64,
    pub y: f64,
    pub text: String,
}

pub struct Chart {
    pub id: String,
    pub width: f64,
    pub height: f64,
    /// What it shows, for screen readers (`<title>`) and as the caption.
    pub title: String,
    /// A sentence that says what the chart says (`<desc>`).
    pub desc: String,
    pub bars: Vec<Bar>,
    pub labels: Vec<Label>,
    pub ticks: Vec<Label>,
    /// The series names in order (the legend).
    pub series: Vec<(&'static str, String)>,
}

const CLASSES: [&str; 3] = ["s0", "s1", "s2"];

/// A grouped bar chart: `groups` of (label, one value per series).
pub fn bars(
    id: &str,
    title: &str,
    desc: String,
    series: &[&str],
    groups: &[(String, Vec<i64>)],
) -> Chart {
    let (width, height) = (600.0, 220.0);
    let (left, bottom, top) = (36.0, 28.0, 10.0);
    let plot_h = height - bottom - top;
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // A round top of the axis: 1, 2, 5 × 10^k.
    let mut top_value = 1i64;
    'outer: for k in 0..12 {
        for m in [1, 2, 5] {
            let v = m * 10i64.pow(k);
            if v >= max {
                top_value = v;
                break 'outer;
            }
        }
    }
    let scale = plot_h / top_value as f64;
    let n = groups.len().max(1) as f64;
    let slot = (width - left) / n;
    let k = series.len().max(1) as f64;
    let bar_w = (slot * 0.8 / k).max(1.0);
    let mut bars = vec![];
    let mut labels = vec![];
    for (i, (label, values)) in groups.iter().enumerate() {
        let x0 = left + slot * i as f64 + slot * 0.1;
        for (j, v) in values.iter().enumerate() {
            let h = *v as f64 * scale;
            bars.push(Bar {
                x: x0 + bar_w * j as f64,
                y: top + plot_h - h,
                w: bar_w,
                h,
                class: CLASSES[j % CLASSES.len()],
                title: format!("{label}: {} {v}", series.get(j).copied().unwrap_or("")),
            });
        }
        // Every label when few, every other one when crowded.
        if groups.len() <= 8 || i % 2 == groups.len() % 2 {
            labels.push(Label {
                x: left + slot * (i as f64 + 0.5),
                y: height - 8.0,
                text: label.clone(),
            });
        }
    }
    let ticks = [0, top_value / 2, top_value]
        .into_iter()
        .map(|t| Label {
            x: left - 4.0,
            y: top + plot_h - t as f64 * scale + 4.0,
            text: t.to_string(),
        })
        .collect();
    Chart {
        id: id.to_string(),
        width,
        height,
        title: title.to_string(),
        desc,
        bars,
        labels,
        ticks,
        series: series
            .iter()
            .enumerate()
            .map(|(j, s)| (CLASSES[j % CLASSES.len()], s.to_string()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_a_round_axis() {
        let c = bars(
            "t",
            "Admissions",
            "d".into(),
            &["admitted", "discharged"],
            &[("Jan".into(), vec![3, 7]), ("Feb".into(), vec![0, 10])],
        );
        assert_eq!(c.bars.len(), 4);
        assert_eq!(c.ticks.last().unwrap().text, "10");
        // The tallest bar fills the plot; an empty one has no height.
        let tallest = c.bars.iter().map(|b| b.h).fold(0.0, f64::max);
        assert!((tallest - (220.0 - 28.0 - 10.0)).abs() < 1e-9);
        assert_eq!(c.bars[2].h, 0.0);
        assert!(c.bars[1].title.contains("discharged 7"));
    }
}
