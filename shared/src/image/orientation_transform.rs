//! Rotations and mirrors of a picture, composed, and named by the EXIF orientation (1–8) that
//! describes the same result. HEIF files carry their orientation as `irot`/`imir` properties that
//! the decoder applies; the record keeps it in EXIF's terms, like every other format's.

/// A 2×2 integer matrix on pixel coordinates (x right, y down), translation left out: the eight
/// rotations and mirrors of a rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform([[i8; 2]; 2]);

impl Transform {
    pub const IDENTITY: Transform = Transform([[1, 0], [0, 1]]);
    /// Left and right swap (`imir` with a vertical axis; EXIF 2).
    pub const FLIP_LEFT_RIGHT: Transform = Transform([[-1, 0], [0, 1]]);
    /// Top and bottom swap (`imir` with a horizontal axis; EXIF 4).
    pub const FLIP_TOP_BOTTOM: Transform = Transform([[1, 0], [0, -1]]);
    /// A quarter turn anticlockwise, as `irot` counts.
    const QUARTER_CCW: Transform = Transform([[0, 1], [-1, 0]]);

    /// `irot`'s rotation: `degrees` anticlockwise, a multiple of 90 (others are ignored).
    pub fn rotation_ccw(degrees: i32) -> Transform {
        if degrees % 90 != 0 {
            return Transform::IDENTITY;
        }
        let quarters = degrees.rem_euclid(360) / 90;
        (0..quarters).fold(Transform::IDENTITY, |t, _| t.then(Transform::QUARTER_CCW))
    }

    /// This transform followed by `next`.
    pub fn then(self, next: Transform) -> Transform {
        let (a, b) = (next.0, self.0);
        let cell = |r: usize, c: usize| a[r][0] * b[0][c] + a[r][1] * b[1][c];
        Transform([[cell(0, 0), cell(0, 1)], [cell(1, 0), cell(1, 1)]])
    }

    /// The EXIF orientation that asks a viewer for this same transform.
    pub fn exif_orientation(self) -> u8 {
        match self.0 {
            [[1, 0], [0, 1]] => 1,
            [[-1, 0], [0, 1]] => 2,
            [[-1, 0], [0, -1]] => 3,
            [[1, 0], [0, -1]] => 4,
            [[0, 1], [1, 0]] => 5,
            [[0, -1], [1, 0]] => 6,
            [[0, -1], [-1, 0]] => 7,
            [[0, 1], [-1, 0]] => 8,
            // Products of rotations and mirrors are always one of the eight above.
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iphone_irot_270_is_exif_6() {
        // iPhone portraits: stored landscape, `irot` 270° anticlockwise = 90° clockwise.
        assert_eq!(Transform::rotation_ccw(270).exif_orientation(), 6);
        assert_eq!(Transform::rotation_ccw(90).exif_orientation(), 8);
        assert_eq!(Transform::rotation_ccw(180).exif_orientation(), 3);
        assert_eq!(Transform::rotation_ccw(0).exif_orientation(), 1);
        assert_eq!(Transform::rotation_ccw(-90).exif_orientation(), 6);
    }

    #[test]
    fn mirrors_and_their_rotations_name_exif_2_4_5_7() {
        assert_eq!(Transform::FLIP_LEFT_RIGHT.exif_orientation(), 2);
        assert_eq!(Transform::FLIP_TOP_BOTTOM.exif_orientation(), 4);
        // EXIF 5: mirror left-right, then a quarter turn anticlockwise (270° clockwise).
        let five = Transform::FLIP_LEFT_RIGHT.then(Transform::rotation_ccw(90));
        assert_eq!(five.exif_orientation(), 5);
        // EXIF 7: mirror left-right, then a quarter turn clockwise.
        let seven = Transform::FLIP_LEFT_RIGHT.then(Transform::rotation_ccw(270));
        assert_eq!(seven.exif_orientation(), 7);
        // Rotating 180° then mirroring left-right is a top-bottom mirror.
        let four = Transform::rotation_ccw(180).then(Transform::FLIP_LEFT_RIGHT);
        assert_eq!(four.exif_orientation(), 4);
    }

    #[test]
    fn matches_the_image_crates_orientations_on_real_pixels() {
        use image::metadata::Orientation;
        use image::{DynamicImage, GenericImageView, RgbImage};
        // A 3×2 picture with a distinct value in every pixel.
        let source = DynamicImage::ImageRgb8(RgbImage::from_fn(3, 2, |x, y| {
            image::Rgb([(x + 3 * y) as u8, 0, 0])
        }));
        let apply = |t: Transform, img: &DynamicImage| {
            // Where pixel (x, y) lands, up to translation: compare by the matrix directly.
            let m = t.0;
            let (w, h) = img.dimensions();
            let mut out = std::collections::HashMap::new();
            for y in 0..h as i32 {
                for x in 0..w as i32 {
                    let nx = i32::from(m[0][0]) * x + i32::from(m[0][1]) * y;
                    let ny = i32::from(m[1][0]) * x + i32::from(m[1][1]) * y;
                    out.insert((nx, ny), img.get_pixel(x as u32, y as u32)[0]);
                }
            }
            let min_x = out.keys().map(|k| k.0).min().unwrap_or(0);
            let min_y = out.keys().map(|k| k.1).min().unwrap_or(0);
            out.into_iter()
                .map(|((x, y), v)| ((x - min_x, y - min_y), v))
                .collect::<std::collections::HashMap<_, _>>()
        };
        let transforms = [
            Transform::IDENTITY,
            Transform::FLIP_LEFT_RIGHT,
            Transform::rotation_ccw(180),
            Transform::FLIP_TOP_BOTTOM,
            Transform::FLIP_LEFT_RIGHT.then(Transform::rotation_ccw(90)),
            Transform::rotation_ccw(270),
            Transform::FLIP_LEFT_RIGHT.then(Transform::rotation_ccw(270)),
            Transform::rotation_ccw(90),
        ];
        for t in transforms {
            let n = t.exif_orientation();
            let mut expected = source.clone();
            expected.apply_orientation(Orientation::from_exif(n).expect("1..=8"));
            let moved = apply(t, &source);
            let (w, h) = expected.dimensions();
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(
                        moved.get(&(x as i32, y as i32)).copied(),
                        Some(expected.get_pixel(x, y)[0]),
                        "EXIF {n} at ({x}, {y})"
                    );
                }
            }
        }
    }
}
