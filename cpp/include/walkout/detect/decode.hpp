// Decoders: a detector's raw output tensor -> per-image detections in source-image pixels.
//
// Layouts (per image; the batch dimension is split off by the caller):
//   yolov8       (4 + nc, N)          Ultralytics YOLOv8/YOLO11 detect: cx, cy, w, h in model
//                                     pixels, then nc class probabilities; no objectness.
//   yolov8-pose  (4 + nc + 3K, N)     the same followed by K keypoints (x, y, visibility), the
//                                     visibility already a probability (sigmoid in the graph).
//   end2end      (N, 6 + 3K)          NMS-free exports (YOLOv10, YOLO26, ...): x1, y1, x2, y2,
//                                     score, class id, then K keypoints (K may be 0).
//   yolox        (N, 5 + nc)          YOLOX raw head: per grid cell of strides 8, 16, 32 (cells
//                                     row-major per stride) dx, dy (grid units), log w, log h,
//                                     objectness, class probabilities; score = obj * class.
// Steps, in this order: best class per candidate (argmax, the lowest class on ties), class
// filter, confidence filter (score > conf_threshold), greedy NMS (per class unless agnostic;
// none for end2end, whose model already did it), the max_det highest scores, then the inverse
// letterbox (boxes clipped to the source image; keypoints mapped, not clipped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "walkout/detect/transform.hpp"

namespace walkout::detect {

enum class OutputLayout { yolov8, yolov8_pose, end2end, yolox };

// Parses "yolov8", "yolov8-pose", "end2end" or "yolox"; throws naming `layout` otherwise.
OutputLayout parse_output_layout(const std::string& name);

struct DecodeOptions {
  // Candidates need a score strictly above this. Lowering it finds people who are small or
  // half hidden, at the price of more false boxes (and slower NMS); raising it the reverse.
  float conf_threshold = 0.25f;
  // NMS IoU threshold in [0, 1] (see NmsOptions::iou_threshold for the trade-off).
  float iou_threshold = 0.45f;
  // True: one NMS across classes (a box of one class suppresses another class's box). Useful
  // when a model confuses similar classes; wrong when classes overlap by nature (hand on body).
  bool agnostic = false;
  // At most this many detections per image, the highest scores; 0 = no limit.
  std::size_t max_det = 300;
  // Keypoints per detection for yolov8-pose (17 for COCO people); the class count is what is
  // left of the channels. Ignored by the other layouts (end2end infers it from its width).
  int num_keypoints = 17;
  // When filter_classes is set, keep only the class ids in `classes` (an empty list keeps
  // nothing); otherwise keep every class.
  bool filter_classes = false;
  std::vector<std::int64_t> classes;

  void check() const;
};

// One image's detections, row-major: boxes n*4 (xyxy, source pixels), scores n, class_ids n,
// keypoints n*num_keypoints*3 (x, y, visibility) when the layout has them.
struct Detections {
  std::vector<float> boxes;
  std::vector<float> scores;
  std::vector<std::int64_t> class_ids;
  std::vector<float> keypoints;
  int num_keypoints = 0;  // 0 when the layout has no keypoints
  std::size_t size() const { return scores.size(); }
};

// Checks the per-image output shape (dim0, dim1) against the layout and, for yolox, against
// the model input (model_w, model_h). Throws std::invalid_argument naming `output` and the
// shape that was expected.
void check_output_shape(OutputLayout layout, std::size_t dim0, std::size_t dim1, int model_w,
                        int model_h, const DecodeOptions& options);

// Decodes one image's output (dim0 x dim1 floats, row-major). Call check_output_shape first.
Detections decode_image(const float* output, std::size_t dim0, std::size_t dim1,
                        OutputLayout layout, const LetterboxTransform& transform, int model_w,
                        int model_h, const DecodeOptions& options);

}  // namespace walkout::detect
