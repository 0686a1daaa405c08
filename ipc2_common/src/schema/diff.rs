//! The first difference between the host's and a worker's [`Description`], in words a user can
//! act on: where it is (a service's method and argument, or a path of fields and variants) and
//! what each side has there.
//!
//! The request and reply enums `#[ipc2::service]` generates are named `…Request` and `…Response`
//! and have one variant per method (wrapped once more by `ipc2::combine!`), so a path that starts
//! with variants of such enums names a method, and the next field of a request is an argument.

use std::collections::HashSet;

use super::{Container, Description, Fields, ROLES, Role, Shape};

/// How deep the walk follows the two descriptions; past it they are taken to agree. A worker's
/// description crossed a process boundary, so its nesting (through containers that are flat on
/// the wire) must not drive the host's recursion.
const MAX_DEPTH: usize = 128;
/// The most containers a worker's description may hold: a real service has a few dozen.
const MAX_CONTAINERS: usize = 10_000;
/// The longest difference reported, in bytes.
const MAX_TEXT: usize = 1024;

pub(super) fn first_difference(host: &Description, worker: &Description) -> Option<String> {
    if worker.containers.len() > MAX_CONTAINERS {
        return Some(format!(
            "the worker's description of its types holds {} types, more than the {MAX_CONTAINERS} the host reads",
            worker.containers.len()
        ));
    }
    let mut walk = Walk {
        host,
        worker,
        role: Role::Job,
        path: Vec::new(),
        seen: HashSet::new(),
        depth: 0,
    };
    let difference = ROLES
        .iter()
        .zip(host.roots.iter().zip(&worker.roots))
        .find_map(|(&role, (h, w))| {
            walk.role = role;
            walk.path.clear();
            walk.shapes(h, w)
        })?;
    Some(cut(difference))
}

/// `text`, cut at a character boundary to at most [`MAX_TEXT`] bytes.
fn cut(mut text: String) -> String {
    if text.len() > MAX_TEXT {
        let end = (0..=MAX_TEXT - 3)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(end);
        text.push_str("...");
    }
    text
}

/// One step from a root to where the sides differ.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    Variant { of: &'a str, name: &'a str },
    Field { of: Option<&'a str>, name: &'a str },
    Index(usize),
    Element,
    Key,
    Value,
    Some,
}

struct Walk<'a> {
    host: &'a Description,
    worker: &'a Description,
    role: Role,
    path: Vec<Step<'a>>,
    /// Container pairs already compared (or being compared), so recursive types end.
    seen: HashSet<(u32, u32)>,
    /// How many shapes deep the walk is.
    depth: usize,
}

impl<'a> Walk<'a> {
    fn shapes(&mut self, h: &'a Shape, w: &'a Shape) -> Option<String> {
        if self.depth == MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let difference = self.compare(h, w);
        self.depth -= 1;
        difference
    }

    fn compare(&mut self, h: &'a Shape, w: &'a Shape) -> Option<String> {
        use Shape::*;
        match (h, w) {
            (Unknown | Opaque(_), _) | (_, Unknown | Opaque(_)) => None,
            // A service's result or argument whose type reads differently is reported as a whole.
            _ if self.at_member() && self.render_host(h) != self.render_worker(w) => {
                Some(self.mismatch(self.render_host(h), self.render_worker(w)))
            }
            (Option(a), Option(b)) => self.within(Step::Some, a, b),
            (Seq(a), Seq(b)) => self.within(Step::Element, a, b),
            (Map(ak, av), Map(bk, bv)) => self
                .within(Step::Key, ak, bk)
                .or_else(|| self.within(Step::Value, av, bv)),
            (Tuple(a), Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (a, b))| self.within(Step::Index(i), a, b)),
            (Named(i), Named(j)) => self.containers(*i, *j),
            _ if h == w => None,
            _ => Some(self.mismatch(self.render_host(h), self.render_worker(w))),
        }
    }

    fn within(&mut self, step: Step<'a>, h: &'a Shape, w: &'a Shape) -> Option<String> {
        self.path.push(step);
        let difference = self.shapes(h, w);
        self.path.pop();
        difference
    }

    fn containers(&mut self, i: u32, j: u32) -> Option<String> {
        if !self.seen.insert((i, j)) {
            return None;
        }
        let (Some(h), Some(w)) = (
            self.host.containers.get(i as usize),
            self.worker.containers.get(j as usize),
        ) else {
            return Some(format!(
                "{}: the worker's description of its types is malformed (it refers to type #{j} of {})",
                self.place(),
                self.worker.containers.len()
            ));
        };
        match (h, w) {
            (
                Container::Struct { name, fields },
                Container::Struct {
                    name: other,
                    fields: theirs,
                },
            ) if name == other => self.fields(Some(name), fields, theirs),
            (
                Container::Enum { name, variants },
                Container::Enum {
                    name: other,
                    variants: theirs,
                },
            ) if name == other => {
                let methods = self.in_methods() && is_service_enum(self.role, name);
                for k in 0..variants.len().max(theirs.len()) {
                    let noun = if methods { "method" } else { "variant" };
                    match (variants.get(k), theirs.get(k)) {
                        (Some(h), Some(w)) if h.name != w.name => {
                            return Some(format!(
                                "{}{noun} {k} is {} on the host and {} on the worker",
                                self.place_prefix_of(name, methods),
                                h.name,
                                w.name
                            ));
                        }
                        (Some(h), Some(w)) => {
                            self.path.push(Step::Variant {
                                of: name,
                                name: &h.name,
                            });
                            let difference = self.fields(None, &h.fields, &w.fields);
                            self.path.pop();
                            if difference.is_some() {
                                return difference;
                            }
                        }
                        (Some(h), None) => {
                            return Some(format!(
                                "{}the worker has no {noun} {}{}",
                                self.place_prefix_of(name, methods),
                                h.name,
                                if methods {
                                    "".to_owned()
                                } else {
                                    format!(" in its {name}")
                                }
                            ));
                        }
                        (None, Some(w)) => {
                            return Some(format!(
                                "{}the host has no {noun} {}{}",
                                self.place_prefix_of(name, methods),
                                w.name,
                                if methods {
                                    "".to_owned()
                                } else {
                                    format!(" in its {name}")
                                }
                            ));
                        }
                        (None, None) => {}
                    }
                }
                None
            }
            _ => Some(self.mismatch(container_name(h), container_name(w))),
        }
    }

    /// Compares what a struct (`of`) or the variant last on the path holds.
    fn fields(&mut self, of: Option<&'a str>, h: &'a Fields, w: &'a Fields) -> Option<String> {
        match (h, w) {
            (Fields::Opaque(_), _) | (_, Fields::Opaque(_)) | (Fields::Unit, Fields::Unit) => None,
            (Fields::Newtype(a), Fields::Newtype(b)) => self.shapes(a, b),
            (Fields::Tuple(a), Fields::Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .enumerate()
                .find_map(|(i, (a, b))| self.within(Step::Index(i), a, b)),
            (Fields::Named(a), Fields::Named(b))
                if a.iter().map(|(n, _)| n).eq(b.iter().map(|(n, _)| n)) =>
            {
                a.iter()
                    .zip(b)
                    .find_map(|((name, a), (_, b))| self.within(Step::Field { of, name }, a, b))
            }
            _ => {
                let (h, w) = (
                    self.render_fields(self.host, h),
                    self.render_fields(self.worker, w),
                );
                Some(if self.role == Role::Job && self.at_method() {
                    format!(
                        "{}: the host sends the arguments {h}, the worker expects {w}",
                        self.place()
                    )
                } else {
                    let whose = of.unwrap_or("variant");
                    format!(
                        "{}: the host's {whose} holds {h}, the worker's holds {w}",
                        self.place()
                    )
                })
            }
        }
    }

    /// How many steps at the start of the path choose a service and a method: variants of the
    /// generated `…Request` / `…Response` enums, each holding the next.
    fn method_steps(&self) -> usize {
        self.path
            .iter()
            .take_while(
                |step| matches!(step, Step::Variant { of, .. } if is_service_enum(self.role, of)),
            )
            .count()
    }

    /// Whether the path has only chosen services so far (the enum being compared lists methods
    /// or services).
    fn in_methods(&self) -> bool {
        self.method_steps() == self.path.len()
    }

    /// Whether the path ends at a method (the next thing compared is its arguments or result).
    fn at_method(&self) -> bool {
        !self.path.is_empty() && self.in_methods()
    }

    /// Whether the path ends at a method's result, or at one of its arguments.
    fn at_member(&self) -> bool {
        let m = self.method_steps();
        m > 0
            && match self.role {
                Role::Reply => self.path.len() == m,
                Role::Job => self.path.len() == m + 1 && matches!(self.path[m], Step::Field { .. }),
                Role::Event => false,
            }
    }

    /// Where the path points, as words.
    fn place(&self) -> String {
        let m = self.method_steps();
        let mut parts = Vec::new();
        // The first `m` steps are variants (see `method_steps`): the services, then the method.
        let names: Vec<&str> = self.path[..m]
            .iter()
            .filter_map(|step| match step {
                Step::Variant { name, .. } => Some(*name),
                _ => None,
            })
            .collect();
        let rest = if let Some((method, services)) = names.split_last() {
            parts.push(match services {
                [] => format!("method {method}"),
                _ => format!("method {method} of {}", services.join("::")),
            });
            match (self.role, self.path.get(m)) {
                (Role::Job, Some(Step::Field { name, .. })) => {
                    parts.push(format!("argument {name}"));
                    &self.path[m + 1..]
                }
                _ => &self.path[m..],
            }
        } else {
            parts.push(format!("the {} type", role_noun(self.role)));
            &self.path[..]
        };
        parts.extend(rest.iter().filter_map(|step| match step {
            Step::Variant { of, name } => Some(format!("variant {name} of {of}")),
            Step::Field { of: Some(of), name } => Some(format!("field {name} of {of}")),
            Step::Field { of: None, name } => Some(format!("field {name}")),
            Step::Index(i) => Some(format!("element {i}")),
            Step::Element => Some("its elements".to_owned()),
            Step::Key => Some("its keys".to_owned()),
            Step::Value => Some("its values".to_owned()),
            Step::Some => None,
        }));
        parts.join(", ")
    }

    /// The place, followed by `": "`, before a sentence about the enum `name` itself; nothing
    /// when the enum is the method list at a root, where the sentence says it all.
    fn place_prefix_of(&self, name: &str, methods: bool) -> String {
        if methods && self.path.is_empty() {
            String::new()
        } else if methods {
            format!("{}: ", self.place())
        } else {
            format!("{}, {name}: ", self.place())
        }
    }

    fn mismatch(&self, h: String, w: String) -> String {
        let clause = match self.role {
            Role::Job => format!("the host sends {h}, the worker expects {w}"),
            Role::Reply if self.at_member() => {
                format!("the host expects a result of type {h}, the worker returns {w}")
            }
            Role::Reply => format!("the host expects {h}, the worker returns {w}"),
            Role::Event => format!("the host expects {h}, the worker emits {w}"),
        };
        format!("{}: {clause}", self.place())
    }

    fn render_host(&self, shape: &Shape) -> String {
        render(self.host, shape, 0)
    }

    fn render_worker(&self, shape: &Shape) -> String {
        render(self.worker, shape, 0)
    }

    fn render_fields(&self, description: &Description, fields: &Fields) -> String {
        match fields {
            Fields::Unit => "nothing".to_owned(),
            Fields::Newtype(shape) => render(description, shape, 0),
            Fields::Tuple(shapes) => format!("({})", list(description, shapes.iter())),
            Fields::Named(named) => {
                let names: Vec<String> = named
                    .iter()
                    .map(|(name, shape)| format!("{name}: {}", render(description, shape, 0)))
                    .collect();
                format!("({})", names.join(", "))
            }
            Fields::Opaque(why) => format!("something that cannot be described ({why})"),
        }
    }
}

fn is_service_enum(role: Role, name: &str) -> bool {
    match role {
        Role::Job => name.ends_with("Request"),
        Role::Reply => name.ends_with("Response"),
        Role::Event => false,
    }
}

fn role_noun(role: Role) -> &'static str {
    match role {
        Role::Job => "job",
        Role::Reply => "reply",
        Role::Event => "event",
    }
}

fn container_name(container: &Container) -> String {
    match container {
        Container::Struct { name, .. } | Container::Enum { name, .. } => name.clone(),
    }
}

fn list<'a>(description: &Description, shapes: impl Iterator<Item = &'a Shape>) -> String {
    let shapes: Vec<String> = shapes.map(|s| render(description, s, 0)).collect();
    shapes.join(", ")
}

/// A type as a Rust programmer writes it: `u32`, `Vec<String>`, `Result<i64, DivByZero>`.
fn render(description: &Description, shape: &Shape, depth: usize) -> String {
    if depth > 8 {
        return "…".to_owned();
    }
    let inner = |shape: &Shape| render(description, shape, depth + 1);
    match shape {
        Shape::Bool => "bool".to_owned(),
        Shape::I8 => "i8".to_owned(),
        Shape::I16 => "i16".to_owned(),
        Shape::I32 => "i32".to_owned(),
        Shape::I64 => "i64".to_owned(),
        Shape::I128 => "i128".to_owned(),
        Shape::U8 => "u8".to_owned(),
        Shape::U16 => "u16".to_owned(),
        Shape::U32 => "u32".to_owned(),
        Shape::U64 => "u64".to_owned(),
        Shape::U128 => "u128".to_owned(),
        Shape::F32 => "f32".to_owned(),
        Shape::F64 => "f64".to_owned(),
        Shape::Char => "char".to_owned(),
        Shape::Str => "String".to_owned(),
        Shape::Bytes => "bytes".to_owned(),
        Shape::Unit => "()".to_owned(),
        Shape::Option(shape) => format!("Option<{}>", inner(shape)),
        Shape::Seq(shape) => format!("Vec<{}>", inner(shape)),
        Shape::Map(key, value) => format!("Map<{}, {}>", inner(key), inner(value)),
        Shape::Tuple(shapes) => {
            let shapes: Vec<String> = shapes.iter().map(inner).collect();
            format!("({})", shapes.join(", "))
        }
        Shape::Named(index) => match description.containers.get(*index as usize) {
            // Generic enums from std read best with their parameters.
            Some(Container::Enum { name, variants }) if name == "Result" && variants.len() == 2 => {
                match (&variants[0].fields, &variants[1].fields) {
                    (Fields::Newtype(ok), Fields::Newtype(err)) => {
                        format!("Result<{}, {}>", inner(ok), inner(err))
                    }
                    _ => name.clone(),
                }
            }
            Some(container) => container_name(container),
            None => format!("type #{index}"),
        },
        Shape::Unknown => "?".to_owned(),
        Shape::Opaque(_) => "a type that cannot be described".to_owned(),
    }
}
