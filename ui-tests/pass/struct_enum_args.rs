// User-defined structs and enums as arguments and return values.

use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Shape {
    Circle { center: Point, radius: f64 },
    Polygon(Vec<Point>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum GeomError {
    Degenerate,
}

#[ipc2::service]
pub trait Geometry {
    async fn area(&self, shape: Shape) -> Result<f64, GeomError>;
    async fn centroid(&self, points: Vec<Point>, weights: Option<Vec<f64>>) -> Point;
    async fn bounds(&self, shapes: std::collections::BTreeMap<String, Shape>) -> (Point, Point);
    async fn raw(&self, bytes: Box<[u8]>, pair: (u8, [u16; 4])) -> std::borrow::Cow<'static, str>;
}

struct Impl;

impl Geometry for Impl {
    async fn area(&self, _shape: Shape) -> Result<f64, GeomError> {
        Err(GeomError::Degenerate)
    }
    async fn centroid(&self, _points: Vec<Point>, _weights: Option<Vec<f64>>) -> Point {
        Point { x: 0.0, y: 0.0 }
    }
    async fn bounds(&self, _shapes: std::collections::BTreeMap<String, Shape>) -> (Point, Point) {
        (Point { x: 0.0, y: 0.0 }, Point { x: 1.0, y: 1.0 })
    }
    async fn raw(
        &self,
        _bytes: Box<[u8]>,
        _pair: (u8, [u16; 4]),
    ) -> std::borrow::Cow<'static, str> {
        "raw".into()
    }
}

async fn _client(w: &GeometryWorkers) -> Result<Point, ipc2::Error> {
    let _: Result<f64, GeomError> = w.area(Shape::Polygon(Vec::new())).await?;
    w.centroid(Vec::new(), None).await
}

fn _serve() {
    let _ = ipc2::worker::serve(GeometryServer(Impl));
}

fn main() {
    _serve();
}
