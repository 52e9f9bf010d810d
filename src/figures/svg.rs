//! The drawing primitives of a matplotlib SVG, axes by axes, in page coordinates: tick marks with their
//! labels, markers, polylines, rectangles, text labels and the legend. Read with `roxmltree` (the XML) and
//! `svgtypes` (transform lists, path data, colours); every ancestor `transform` and a `<use>`'s own `x`/`y` are
//! applied, as SVG composes them.
//!
//! What matplotlib writes (its SVG backend, text as paths): each axes is a `<g id="axes_N">`; a tick is a
//! `<g id="xtick_N">` (or `ytick_N`) holding the tick mark as a `<use>` at the tick's position and a
//! `text_*` group whose label survives only as an XML comment (`<!-- 0.25 -->`, the glyphs being paths);
//! scatter markers are `<use>` elements in `PathCollection_*` groups, box-plot fliers `<use>` elements in
//! `line2d_*` groups; lines are `<path>`s in `line2d_*` groups and boxes `<path>`s in `patch_*` groups; a
//! legend is a `legend_N` group in which each entry's handle precedes its text.

use roxmltree::{Document, Node, ParsingOptions};
use svgtypes::{Color, PathParser, PathSegment, Transform};

/// A 2-D point in page (SVG user) units.
pub(super) type Pt = (f64, f64);

/// Which axis a tick belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    X,
    Y,
}

/// One tick: its position along its axis (page units) and its label, if any.
#[derive(Clone, Debug)]
pub(super) struct RawTick {
    pub dir: Dir,
    pub pos: f64,
    pub label: Option<String>,
}

/// A marker (`<use>` outside ticks): position, fill colour, and whether it belongs to a box plot's
/// fliers (`line2d_*` group) rather than a scatter (`PathCollection_*`).
#[derive(Clone, Debug)]
pub(super) struct Marker {
    pub at: Pt,
    pub fill: Option<String>,
    pub flier: bool,
}

/// A polyline (`<path>` of move-to and line-to segments in a `line2d_*` group).
#[derive(Clone, Debug)]
pub(super) struct Line {
    pub points: Vec<Pt>,
    pub dashed: bool,
    pub stroke: Option<String>,
}

/// An axis-aligned rectangle in page units: left, top, right, bottom (top < bottom: SVG's y grows down).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Rect {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

impl Rect {
    pub fn contains(&self, p: Pt) -> bool {
        (self.left..=self.right).contains(&p.0) && (self.top..=self.bottom).contains(&p.1)
    }
}

/// A text label (the comment matplotlib leaves in a `text_*` group) and where its anchor lands.
#[derive(Clone, Debug)]
pub(super) struct Label {
    pub text: String,
    pub at: Pt,
    /// Inside a `matplotlib.axis_*` group (an axis label), and then which axis (0 = x, 1 = y).
    pub axis: Option<usize>,
}

/// Everything drawn inside one `<g id="axes_N">`.
#[derive(Clone, Debug, Default)]
pub(super) struct RawAxes {
    pub id: String,
    pub clip: Option<Rect>,
    pub background: Option<Rect>,
    pub ticks: Vec<RawTick>,
    pub markers: Vec<Marker>,
    pub lines: Vec<Line>,
    pub rects: Vec<Rect>,
    pub labels: Vec<Label>,
    /// Legend entries: the handle's fill colour (None for a line handle) and the entry's text.
    pub legend: Vec<(Option<String>, String)>,
}

/// Parses `text` into its axes. Errors (a message, the caller names the file) on malformed XML.
pub(super) fn read_axes(text: &str) -> Result<Vec<RawAxes>, String> {
    let opt = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, opt).map_err(|e| format!("not XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("svg") {
        return Err(format!(
            "the root element is <{}>, not <svg>",
            root.tag_name().name()
        ));
    }
    let clips = clip_rects(&doc)?;
    let mut out = Vec::new();
    walk_for_axes(root, Transform::default(), &clips, &mut out)?;
    Ok(out)
}

fn id_of<'a>(n: Node<'a, '_>) -> &'a str {
    n.attribute("id").unwrap_or("")
}

/// `<g id="PREFIX_digits">`.
fn is_group(n: Node, prefix: &str) -> bool {
    n.has_tag_name("g")
        && id_of(n)
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('_'))
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

fn compose(a: &Transform, b: &Transform) -> Transform {
    Transform::new(
        a.a * b.a + a.c * b.b,
        a.b * b.a + a.d * b.b,
        a.a * b.c + a.c * b.d,
        a.b * b.c + a.d * b.d,
        a.a * b.e + a.c * b.f + a.e,
        a.b * b.e + a.d * b.f + a.f,
    )
}

fn apply(t: &Transform, p: Pt) -> Pt {
    (t.a * p.0 + t.c * p.1 + t.e, t.b * p.0 + t.d * p.1 + t.f)
}

/// `parent` composed with `n`'s own `transform` attribute.
fn local(n: Node, parent: &Transform) -> Result<Transform, String> {
    match n.attribute("transform") {
        None => Ok(*parent),
        Some(s) => s
            .parse::<Transform>()
            .map(|t| compose(parent, &t))
            .map_err(|e| format!("bad transform \"{s}\" on <{}>: {e}", n.tag_name().name())),
    }
}

fn number(n: Node, attr: &str) -> Result<f64, String> {
    match n.attribute(attr) {
        None => Ok(0.0),
        Some(s) => s.trim().parse().map_err(|_| {
            format!(
                "attribute {attr}=\"{s}\" of <{}> (id \"{}\") is not a number",
                n.tag_name().name(),
                id_of(n)
            )
        }),
    }
}

/// Where a `<use>` puts its referenced symbol's origin: its transform, then its x/y (SVG 1.1 §5.6).
fn use_position(n: Node, t: &Transform) -> Result<Pt, String> {
    let t = local(n, t)?;
    Ok(apply(&t, (number(n, "x")?, number(n, "y")?)))
}

/// One declaration of a `style="a: b; c: d"` attribute.
fn style<'a>(n: Node<'a, '_>, key: &str) -> Option<&'a str> {
    n.attribute("style")?.split(';').find_map(|decl| {
        let (k, v) = decl.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// A colour as lowercase `#rrggbb` (None for `none`, absent or unparsable).
fn colour(n: Node, key: &str) -> Option<String> {
    let v = style(n, key).or_else(|| n.attribute(key))?;
    let c: Color = v.parse().ok()?;
    Some(format!("#{:02x}{:02x}{:02x}", c.red, c.green, c.blue))
}

/// The points of a path made only of move-to/line-to/close segments (None when it has curves).
fn polyline(d: &str, t: &Transform) -> Result<Option<(Vec<Pt>, bool)>, String> {
    let mut pts = Vec::new();
    let mut closed = false;
    let mut cur = (0.0, 0.0);
    for seg in PathParser::from(d) {
        let seg = seg.map_err(|e| format!("bad path data: {e}"))?;
        let rel =
            |abs: bool, x: f64, y: f64, cur: Pt| if abs { (x, y) } else { (cur.0 + x, cur.1 + y) };
        cur = match seg {
            PathSegment::MoveTo { abs, x, y } | PathSegment::LineTo { abs, x, y } => {
                rel(abs, x, y, cur)
            }
            PathSegment::HorizontalLineTo { abs, x } => (if abs { x } else { cur.0 + x }, cur.1),
            PathSegment::VerticalLineTo { abs, y } => (cur.0, if abs { y } else { cur.1 + y }),
            PathSegment::ClosePath { .. } => {
                closed = true;
                continue;
            }
            _ => return Ok(None),
        };
        pts.push(cur);
    }
    Ok(Some((
        pts.into_iter().map(|p| apply(t, p)).collect(),
        closed,
    )))
}

/// An axis-aligned rectangle from a closed path of 4 distinct corners (5 points, the last repeating the
/// first, as matplotlib writes boxes) or the 4 corners alone.
fn as_rect(pts: &[Pt]) -> Option<Rect> {
    let corners = match pts.len() {
        5 if pts[0] == pts[4] => &pts[..4],
        4 => pts,
        _ => return None,
    };
    let xs = corners.iter().map(|p| p.0);
    let ys = corners.iter().map(|p| p.1);
    let r = Rect {
        left: xs.clone().fold(f64::INFINITY, f64::min),
        right: xs.fold(f64::NEG_INFINITY, f64::max),
        top: ys.clone().fold(f64::INFINITY, f64::min),
        bottom: ys.fold(f64::NEG_INFINITY, f64::max),
    };
    let on_edge = |p: &Pt| (p.0 == r.left || p.0 == r.right) && (p.1 == r.top || p.1 == r.bottom);
    (corners.iter().all(on_edge) && r.right > r.left && r.bottom > r.top).then_some(r)
}

/// `<clipPath id><rect .../></clipPath>` → its rectangle (in the clip path's own units), for every clip path
/// of the document.
fn clip_rects(doc: &Document) -> Result<Vec<(String, Rect)>, String> {
    let mut out = Vec::new();
    for cp in doc.descendants().filter(|n| n.has_tag_name("clipPath")) {
        let Some(r) = cp.children().find(|n| n.has_tag_name("rect")) else {
            continue;
        };
        let t = local(r, &Transform::default())?;
        let (x, y) = (number(r, "x")?, number(r, "y")?);
        let (w, h) = (number(r, "width")?, number(r, "height")?);
        let (a, b) = (apply(&t, (x, y)), apply(&t, (x + w, y + h)));
        out.push((
            id_of(cp).to_string(),
            Rect {
                left: a.0.min(b.0),
                right: a.0.max(b.0),
                top: a.1.min(b.1),
                bottom: a.1.max(b.1),
            },
        ));
    }
    Ok(out)
}

fn walk_for_axes(
    n: Node,
    t: Transform,
    clips: &[(String, Rect)],
    out: &mut Vec<RawAxes>,
) -> Result<(), String> {
    for c in n.children().filter(|c| c.is_element()) {
        let tc = local(c, &t)?;
        if is_group(c, "axes") {
            let mut ax = RawAxes {
                id: id_of(c).to_string(),
                ..RawAxes::default()
            };
            let mut ctx = Ctx {
                ax: &mut ax,
                clips,
                axis_index: 0,
            };
            ctx.visit(c, tc, Where::Plain)?;
            out.push(ax);
        } else {
            walk_for_axes(c, tc, clips, out)?;
        }
    }
    Ok(())
}

/// Which kind of group an element sits in, innermost that matters.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Where {
    Plain,
    /// Inside `matplotlib.axis_*` number k (0 = x, 1 = y) but not in a tick.
    Axis(usize),
    /// `PathCollection_*` (scatter) or `line2d_*` (lines, fliers).
    Collection,
    Line2d,
    Patch,
}

struct Ctx<'a> {
    ax: &'a mut RawAxes,
    clips: &'a [(String, Rect)],
    axis_index: usize,
}

/// The first comment in `n`'s subtree (matplotlib's text label).
fn comment(n: Node) -> Option<String> {
    n.descendants()
        .find(|d| d.is_comment())
        .and_then(|d| d.text())
        .map(|s| s.trim().to_string())
}

/// Where a `text_*` group's glyphs start: the transform of its first transformed child applied to (0, 0),
/// else the group's own.
fn label_anchor(n: Node, t: &Transform) -> Result<Pt, String> {
    match n
        .descendants()
        .skip(1)
        .find(|d| d.is_element() && d.attribute("transform").is_some())
    {
        Some(g) => {
            let mut tg = *t;
            let mut chain: Vec<Node> = g.ancestors().take_while(|a| *a != n).collect();
            chain.reverse();
            for a in chain {
                tg = local(a, &tg)?;
            }
            Ok(apply(&tg, (0.0, 0.0)))
        }
        None => Ok(apply(t, (0.0, 0.0))),
    }
}

impl Ctx<'_> {
    /// The rectangle of `n`'s clip path in page units: clip paths are in the user space of the element
    /// that references them, so `t`, the transform in force on `n`, applies.
    fn clip_of(&self, n: Node, t: &Transform) -> Option<Rect> {
        let url = n.attribute("clip-path")?;
        let id = url.trim().strip_prefix("url(#")?.strip_suffix(')')?;
        let r = self.clips.iter().find(|(k, _)| k == id).map(|(_, r)| *r)?;
        let (a, b) = (apply(t, (r.left, r.top)), apply(t, (r.right, r.bottom)));
        Some(Rect {
            left: a.0.min(b.0),
            right: a.0.max(b.0),
            top: a.1.min(b.1),
            bottom: a.1.max(b.1),
        })
    }

    fn visit(&mut self, n: Node, t: Transform, at: Where) -> Result<(), String> {
        if self.ax.clip.is_none() {
            self.ax.clip = self.clip_of(n, &t);
        }
        for c in n.children().filter(|c| c.is_element()) {
            let tc = local(c, &t)?;
            if is_group(c, "xtick") || is_group(c, "ytick") {
                self.tick(c, tc)?;
            } else if is_group(c, "legend") {
                self.legend(c, tc)?;
            } else if c.has_tag_name("g") && id_of(c).starts_with("matplotlib.axis") {
                let k = self.axis_index;
                self.axis_index += 1;
                self.visit(c, tc, Where::Axis(k))?;
            } else if is_group(c, "text") {
                if let Some(text) = comment(c) {
                    let anchor = label_anchor(c, &tc)?;
                    let axis = match at {
                        Where::Axis(k) => Some(k),
                        _ => None,
                    };
                    self.ax.labels.push(Label {
                        text,
                        at: anchor,
                        axis,
                    });
                }
            } else if is_group(c, "PathCollection") {
                self.visit(c, tc, Where::Collection)?;
            } else if is_group(c, "line2d") {
                self.visit(c, tc, Where::Line2d)?;
            } else if is_group(c, "patch") {
                self.visit(c, tc, Where::Patch)?;
            } else if c.has_tag_name("use") && matches!(at, Where::Collection | Where::Line2d) {
                self.ax.markers.push(Marker {
                    at: use_position(c, &t)?,
                    fill: colour(c, "fill"),
                    flier: at == Where::Line2d,
                });
            } else if c.has_tag_name("path") && matches!(at, Where::Line2d | Where::Patch) {
                self.path(c, &tc, at)?;
            } else if !c.has_tag_name("defs") {
                self.visit(c, tc, at)?;
            }
        }
        Ok(())
    }

    fn path(&mut self, n: Node, t: &Transform, at: Where) -> Result<(), String> {
        if self.ax.clip.is_none() {
            self.ax.clip = self.clip_of(n, t);
        }
        let d = n.attribute("d").unwrap_or("");
        let Some((pts, closed)) = polyline(d, t)? else {
            return Ok(());
        };
        if at == Where::Patch {
            match as_rect(&pts) {
                // The axes background: the first rectangle without a clip path.
                Some(r) if n.attribute("clip-path").is_none() => {
                    self.ax.background.get_or_insert(r);
                }
                Some(r) if closed => self.ax.rects.push(r),
                _ => {}
            }
        } else if pts.len() >= 2 {
            self.ax.lines.push(Line {
                points: pts,
                dashed: style(n, "stroke-dasharray").is_some_and(|v| v != "none"),
                stroke: colour(n, "stroke"),
            });
        }
        Ok(())
    }

    fn tick(&mut self, g: Node, t: Transform) -> Result<(), String> {
        let dir = if id_of(g).starts_with('x') {
            Dir::X
        } else {
            Dir::Y
        };
        // The tick mark: the first <use> (grid lines are <path>s and carry no position of their own).
        let Some(mark) = g.descendants().find(|d| d.has_tag_name("use")) else {
            return Ok(());
        };
        let mut tm = t;
        let mut chain: Vec<Node> = mark.ancestors().skip(1).take_while(|a| *a != g).collect();
        chain.reverse();
        for a in chain {
            tm = local(a, &tm)?;
        }
        let p = use_position(mark, &tm)?;
        let label = g
            .children()
            .find(|c| is_group(*c, "text"))
            .and_then(comment);
        self.ax.ticks.push(RawTick {
            dir,
            pos: if dir == Dir::X { p.0 } else { p.1 },
            label,
        });
        Ok(())
    }

    fn legend(&mut self, g: Node, _t: Transform) -> Result<(), String> {
        let mut handle: Option<Option<String>> = None;
        for c in g.children().filter(|c| c.is_element()) {
            if is_group(c, "PathCollection") || is_group(c, "line2d") {
                let fill = c
                    .descendants()
                    .find(|d| d.has_tag_name("use"))
                    .and_then(|u| colour(u, "fill"));
                handle = Some(fill);
            } else if is_group(c, "text") {
                if let (Some(h), Some(text)) = (handle.take(), comment(c)) {
                    self.ax.legend.push((h, text));
                }
            }
        }
        Ok(())
    }
}
