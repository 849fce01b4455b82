// The letterbox transform of one image: how a point in source-image pixels maps into the model
// input (model_from_source) and back (source_from_model).
//
// Coordinates are continuous pixel coordinates with pixel edges at integers (a box that covers
// pixels 0..9 is [0, 10]); the resize samples pixel centres the OpenCV way, so in these
// coordinates the resize is exactly x_model = x_source * scale_x + pad_x. The scale is per axis
// because the resized image has whole-pixel sides (Ultralytics rounds, YOLOX truncates): using
// one gain for both axes, as Ultralytics' scale_boxes does, is off by up to half a model pixel.
#pragma once

namespace walkout::detect {

struct LetterboxTransform {
  double scale_x = 1.0;  // model pixels per source pixel along x (resized width / source width)
  double scale_y = 1.0;  // same along y
  double pad_x = 0.0;    // model pixels of padding left of the image
  double pad_y = 0.0;    // model pixels of padding above the image
  double src_w = 0.0;    // source image width in pixels (boxes are clipped to it)
  double src_h = 0.0;    // source image height in pixels

  double source_x_from_model(double x) const { return (x - pad_x) / scale_x; }
  double source_y_from_model(double y) const { return (y - pad_y) / scale_y; }
  double model_x_from_source(double x) const { return x * scale_x + pad_x; }
  double model_y_from_source(double y) const { return y * scale_y + pad_y; }
};

// Number of doubles per transform in the flat (B, 6) arrays that cross into Python, in the
// field order above.
inline constexpr int kTransformFields = 6;

}  // namespace walkout::detect
