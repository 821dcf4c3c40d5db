//! Where each variant's pixels come from: output size and source crop, never upscaled.

use crate::config::{Fit, VariantSpec};

/// A resize step: take `crop` (x, y, width, height in source pixels) and scale it to `width`×`height`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub width: u32,
    pub height: u32,
    pub crop: Crop,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crop {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// Plans a variant for an upright image of `width`×`height`.
pub fn plan(spec: &VariantSpec, width: u32, height: u32) -> Plan {
    let (w, h) = (f64::from(width), f64::from(height));
    let (box_w, box_h) = (f64::from(spec.width), f64::from(spec.height));
    let full = Crop {
        left: 0.0,
        top: 0.0,
        width: w,
        height: h,
    };
    match spec.fit {
        Fit::Inside => {
            let scale = (box_w / w).min(box_h / h).min(1.0);
            Plan {
                width: scaled(w, scale),
                height: scaled(h, scale),
                crop: full,
            }
        }
        Fit::Cover => {
            let scale = (box_w / w).max(box_h / h).min(1.0);
            let out_w = scaled(w, scale).min(spec.width);
            let out_h = scaled(h, scale).min(spec.height);
            let crop_w = (f64::from(out_w) / scale).min(w);
            let crop_h = (f64::from(out_h) / scale).min(h);
            Plan {
                width: out_w,
                height: out_h,
                crop: Crop {
                    left: (w - crop_w) / 2.0,
                    top: (h - crop_h) / 2.0,
                    width: crop_w,
                    height: crop_h,
                },
            }
        }
    }
}

impl Plan {
    /// The same plan on a copy of the `from` source resized to `to` (a cascade step). Each
    /// axis has its own factor (the step's sides were rounded separately), and the crop is
    /// clamped to the step, which rounding may otherwise overshoot by a fraction of a pixel.
    pub fn rescaled(self, from: (u32, u32), to: (u32, u32)) -> Plan {
        if from == to {
            return self;
        }
        let fx = f64::from(to.0) / f64::from(from.0);
        let fy = f64::from(to.1) / f64::from(from.1);
        let left = (self.crop.left * fx).min(f64::from(to.0));
        let top = (self.crop.top * fy).min(f64::from(to.1));
        Plan {
            crop: Crop {
                left,
                top,
                width: (self.crop.width * fx).min(f64::from(to.0) - left),
                height: (self.crop.height * fy).min(f64::from(to.1) - top),
            },
            ..self
        }
    }

    /// Whether the plan takes the whole source, uncropped: only such results can feed others.
    pub fn is_full_frame(&self, width: u32, height: u32) -> bool {
        self.crop.left == 0.0
            && self.crop.top == 0.0
            && self.crop.width == f64::from(width)
            && self.crop.height == f64::from(height)
    }

    /// The same plan expressed in a source whose axes are swapped (EXIF orientations 5–8 store
    /// the image transposed). Crops are centred, so mirroring needs no change.
    pub fn transposed(self) -> Plan {
        Plan {
            width: self.height,
            height: self.width,
            crop: Crop {
                left: self.crop.top,
                top: self.crop.left,
                width: self.crop.height,
                height: self.crop.width,
            },
        }
    }
}

fn scaled(length: f64, scale: f64) -> u32 {
    // Rounded, and never to nothing: a 1×4000 strip still yields a 1-pixel-wide variant.
    ((length * scale).round() as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> VariantSpec {
        text.parse().expect("valid spec")
    }

    #[test]
    fn inside_keeps_aspect_ratio() {
        let p = plan(&spec("m:800x800:inside:jpeg:80"), 4000, 3000);
        assert_eq!((p.width, p.height), (800, 600));
        assert_eq!(p.crop.width, 4000.0);
    }

    #[test]
    fn inside_never_upscales() {
        let p = plan(&spec("l:1600x1600:inside:jpeg:80"), 640, 480);
        assert_eq!((p.width, p.height), (640, 480));
    }

    #[test]
    fn cover_fills_the_box_with_a_centred_crop() {
        let p = plan(&spec("t:200x200:cover:jpeg:80"), 1800, 1200);
        assert_eq!((p.width, p.height), (200, 200));
        assert_eq!((p.crop.left, p.crop.top), (300.0, 0.0));
        assert_eq!((p.crop.width, p.crop.height), (1200.0, 1200.0));
    }

    #[test]
    fn cover_of_a_small_image_crops_without_upscaling() {
        let p = plan(&spec("t:200x200:cover:jpeg:80"), 300, 100);
        assert_eq!((p.width, p.height), (200, 100));
        assert_eq!((p.crop.left, p.crop.width), (50.0, 200.0));
    }

    #[test]
    fn rescaled_crops_stay_inside_a_rounded_step() {
        // 1800×1200 resized to 800×533: the y factor is not the x factor.
        let p =
            plan(&spec("t:200x200:cover:jpeg:80"), 1800, 1200).rescaled((1800, 1200), (800, 533));
        assert!(p.crop.top + p.crop.height <= 533.0);
        assert!(p.crop.left + p.crop.width <= 800.0);
        assert!((p.crop.width - 533.33).abs() < 0.01, "{}", p.crop.width);
        assert_eq!((p.width, p.height), (200, 200));
    }

    #[test]
    fn transposed_swaps_axes() {
        let p = plan(&spec("t:200x100:cover:jpeg:80"), 1000, 1000).transposed();
        assert_eq!((p.width, p.height), (100, 200));
        assert_eq!((p.crop.width, p.crop.height), (500.0, 1000.0));
        assert_eq!((p.crop.left, p.crop.top), (250.0, 0.0));
    }
}
