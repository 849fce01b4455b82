#include "walkout/detect/decode.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "walkout/detect/dispatch.hpp"
#include "walkout/detect/nms.hpp"

namespace walkout::detect {

OutputLayout parse_output_layout(const std::string& name) {
  if (name == "yolov8") return OutputLayout::yolov8;
  if (name == "yolov8-pose") return OutputLayout::yolov8_pose;
  if (name == "end2end") return OutputLayout::end2end;
  if (name == "yolox") return OutputLayout::yolox;
  throw std::invalid_argument(
      "layout: expected one of \"yolov8\", \"yolov8-pose\", \"end2end\", \"yolox\", got \"" +
      name + "\"");
}

void DecodeOptions::check() const {
  if (std::isnan(conf_threshold)) {
    throw std::invalid_argument("conf_threshold: expected a number, got NaN");
  }
  if (!(iou_threshold >= 0.0f && iou_threshold <= 1.0f)) {
    throw std::invalid_argument("iou_threshold: expected a value in [0, 1], got " +
                                std::to_string(iou_threshold));
  }
  if (num_keypoints < 0) {
    throw std::invalid_argument("num_keypoints: expected >= 0, got " +
                                std::to_string(num_keypoints));
  }
}

namespace {

constexpr int kYoloxStrides[3] = {8, 16, 32};

std::size_t yolox_anchor_count(int model_w, int model_h) {
  std::size_t n = 0;
  for (int s : kYoloxStrides) n += static_cast<std::size_t>(model_h / s) * (model_w / s);
  return n;
}

std::string dims(std::size_t a, std::size_t b) {
  return "(" + std::to_string(a) + ", " + std::to_string(b) + ")";
}

// Candidates that passed the class and confidence filters, in model pixels (xyxy); `source`
// is the candidate's anchor (or row) index, used to fetch keypoints for the kept ones.
struct Candidates {
  std::vector<float> boxes;
  std::vector<float> scores;
  std::vector<std::int64_t> class_ids;
  std::vector<std::uint32_t> source;
  void add(float x1, float y1, float x2, float y2, float score, std::int64_t cls, std::size_t src) {
    boxes.insert(boxes.end(), {x1, y1, x2, y2});
    scores.push_back(score);
    class_ids.push_back(cls);
    source.push_back(static_cast<std::uint32_t>(src));
  }
};

bool class_allowed(const DecodeOptions& o, std::int64_t cls) {
  return !o.filter_classes || std::find(o.classes.begin(), o.classes.end(), cls) != o.classes.end();
}

// Best class per anchor over channel-major class rows: best[n] = max_c rows[c][n], with the
// lowest class winning ties (strict >). Anchors go in blocks of kBlock whose running best and
// class stay in vector registers while the classes stream past (each class contributes one
// contiguous kBlock-float read); the block loops have fixed length so the compiler unrolls
// them into registers. Updates are unconditional bit-mask blends: written as
// "better ? a : b" into memory, GCC emits masked stores, microcoded and slow on AMD.
WALKOUT_HOT_CLONES
void best_class_channel_major(const float* rows, std::size_t num_classes, std::size_t n,
                              float* best, std::int32_t* best_class) {
  constexpr std::size_t kBlock = 32;
  std::size_t start = 0;
  for (; start + kBlock <= n; start += kBlock) {
    float b[kBlock];
    std::int32_t cls[kBlock];
    for (std::size_t j = 0; j < kBlock; ++j) {
      b[j] = rows[start + j];
      cls[j] = 0;
    }
    for (std::size_t c = 1; c < num_classes; ++c) {
      const float* row = rows + c * n + start;
      const std::int32_t cc = static_cast<std::int32_t>(c);
      for (std::size_t j = 0; j < kBlock; ++j) {
        const float v = row[j];
        const std::int32_t better = -static_cast<std::int32_t>(v > b[j]);  // all ones if v > b
        b[j] = std::max(b[j], v);                                           // (b < v) ? v : b
        cls[j] = (cls[j] & ~better) | (cc & better);
      }
    }
    for (std::size_t j = 0; j < kBlock; ++j) {
      best[start + j] = b[j];
      best_class[start + j] = cls[j];
    }
  }
  for (std::size_t i = start; i < n; ++i) {  // the last n % kBlock anchors
    best[i] = rows[i];
    best_class[i] = 0;
    for (std::size_t c = 1; c < num_classes; ++c) {
      if (rows[c * n + i] > best[i]) {
        best[i] = rows[c * n + i];
        best_class[i] = static_cast<std::int32_t>(c);
      }
    }
  }
}

// Row-major variant (end2end and yolox rows are per anchor): first maximum of n values.
inline std::size_t first_max(const float* v, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < n; ++c) {
    if (v[c] > v[best]) best = c;
  }
  return best;
}

void collect_channel_major(const float* out, std::size_t n, std::size_t num_classes,
                           const DecodeOptions& o, Candidates& cand) {
  std::vector<float> best(n);
  std::vector<std::int32_t> best_class(n);
  best_class_channel_major(out + 4 * n, num_classes, n, best.data(), best_class.data());
  const float* cx = out;
  const float* cy = out + n;
  const float* w = out + 2 * n;
  const float* h = out + 3 * n;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(best[i] > o.conf_threshold) || !class_allowed(o, best_class[i])) continue;
    // Same operations as walkout::boxes::cxcywh_to_xyxy (half sizes, then +-).
    const float hw = w[i] / 2.0f, hh = h[i] / 2.0f;
    cand.add(cx[i] - hw, cy[i] - hh, cx[i] + hw, cy[i] + hh, best[i], best_class[i], i);
  }
}

void collect_end2end(const float* out, std::size_t rows, std::size_t width, const DecodeOptions& o,
                     Candidates& cand) {
  for (std::size_t i = 0; i < rows; ++i) {
    const float* r = out + i * width;
    const float score = r[4];
    // Class ids travel as floats in these exports; they are small whole numbers.
    const auto cls = static_cast<std::int64_t>(std::llround(r[5]));
    if (!(score > o.conf_threshold) || !class_allowed(o, cls)) continue;
    cand.add(r[0], r[1], r[2], r[3], score, cls, i);
  }
}

void collect_yolox(const float* out, std::size_t width, int model_w, int model_h,
                   const DecodeOptions& o, Candidates& cand) {
  const std::size_t num_classes = width - 5;
  std::size_t i = 0;
  for (int stride : kYoloxStrides) {
    const int gh = model_h / stride, gw = model_w / stride;
    const auto s = static_cast<float>(stride);
    for (int gy = 0; gy < gh; ++gy) {
      for (int gx = 0; gx < gw; ++gx, ++i) {
        const float* r = out + i * width;
        const std::size_t c = first_max(r + 5, num_classes);
        const float score = r[4] * r[5 + c];
        if (!(score > o.conf_threshold) || !class_allowed(o, static_cast<std::int64_t>(c))) continue;
        // exp only for the few candidates that pass, not for every anchor.
        const float cx = (r[0] + static_cast<float>(gx)) * s;
        const float cy = (r[1] + static_cast<float>(gy)) * s;
        const float hw = std::exp(r[2]) * s / 2.0f;
        const float hh = std::exp(r[3]) * s / 2.0f;
        cand.add(cx - hw, cy - hh, cx + hw, cy + hh, score, static_cast<std::int64_t>(c), i);
      }
    }
  }
}

// Indices of candidates in descending score order (ties: lower index first), at most max_det.
std::vector<std::int64_t> select(const Candidates& cand, OutputLayout layout, const DecodeOptions& o) {
  NmsOptions nms_options;
  nms_options.iou_threshold = o.iou_threshold;
  nms_options.max_det = o.max_det;
  if (layout == OutputLayout::end2end) {
    // The model already suppressed duplicates: threshold 1 keeps every box (IoU > 1 never
    // holds), so this is only the sort and the max_det cut.
    nms_options.iou_threshold = 1.0f;
  }
  const std::int64_t* classes = o.agnostic ? nullptr : cand.class_ids.data();
  return nms(cand.boxes.data(), cand.scores.data(), classes, cand.scores.size(), nms_options);
}

float clip(double v, double hi) { return static_cast<float>(std::clamp(v, 0.0, hi)); }

}  // namespace

void check_output_shape(OutputLayout layout, std::size_t dim0, std::size_t dim1, int model_w,
                        int model_h, const DecodeOptions& o) {
  const std::string got = ", got " + dims(dim0, dim1) + " per image";
  switch (layout) {
    case OutputLayout::yolov8:
      if (dim0 < 5) throw std::invalid_argument("output: expected (B, 4 + nc, N) with nc >= 1" + got);
      break;
    case OutputLayout::yolov8_pose: {
      const std::size_t kp = 3 * static_cast<std::size_t>(o.num_keypoints);
      if (dim0 < 5 + kp) {
        throw std::invalid_argument("output: expected (B, 4 + nc + 3*" +
                                    std::to_string(o.num_keypoints) + ", N) with nc >= 1" + got);
      }
      break;
    }
    case OutputLayout::end2end:
      if (dim1 < 6 || (dim1 - 6) % 3 != 0) {
        throw std::invalid_argument("output: expected (B, N, 6 + 3K)" + got);
      }
      break;
    case OutputLayout::yolox: {
      const std::size_t anchors = yolox_anchor_count(model_w, model_h);
      if (dim1 < 6 || dim0 != anchors) {
        throw std::invalid_argument("output: expected (B, " + std::to_string(anchors) +
                                    ", 5 + nc) for a " + std::to_string(model_w) + "x" +
                                    std::to_string(model_h) + " yolox input" + got);
      }
      break;
    }
  }
}

Detections decode_image(const float* output, std::size_t dim0, std::size_t dim1,
                        OutputLayout layout, const LetterboxTransform& t, int model_w,
                        int model_h, const DecodeOptions& o) {
  Candidates cand;
  int num_keypoints = 0;
  switch (layout) {
    case OutputLayout::yolov8:
      collect_channel_major(output, dim1, dim0 - 4, o, cand);
      break;
    case OutputLayout::yolov8_pose:
      num_keypoints = o.num_keypoints;
      collect_channel_major(output, dim1, dim0 - 4 - 3 * static_cast<std::size_t>(num_keypoints),
                            o, cand);
      break;
    case OutputLayout::end2end:
      num_keypoints = static_cast<int>((dim1 - 6) / 3);
      collect_end2end(output, dim0, dim1, o, cand);
      break;
    case OutputLayout::yolox:
      collect_yolox(output, dim1, model_w, model_h, o, cand);
      break;
  }
  const std::vector<std::int64_t> keep = select(cand, layout, o);

  Detections d;
  d.num_keypoints = num_keypoints;
  d.boxes.reserve(4 * keep.size());
  d.scores.reserve(keep.size());
  d.class_ids.reserve(keep.size());
  d.keypoints.reserve(keep.size() * 3 * static_cast<std::size_t>(num_keypoints));
  for (const std::int64_t k : keep) {
    const auto i = static_cast<std::size_t>(k);
    const float* b = cand.boxes.data() + 4 * i;
    d.boxes.push_back(clip(t.source_x_from_model(b[0]), t.src_w));
    d.boxes.push_back(clip(t.source_y_from_model(b[1]), t.src_h));
    d.boxes.push_back(clip(t.source_x_from_model(b[2]), t.src_w));
    d.boxes.push_back(clip(t.source_y_from_model(b[3]), t.src_h));
    d.scores.push_back(cand.scores[i]);
    d.class_ids.push_back(cand.class_ids[i]);
    const std::size_t src = cand.source[i];
    for (int p = 0; p < num_keypoints; ++p) {
      float x, y, v;
      if (layout == OutputLayout::end2end) {
        const float* r = output + src * dim1 + 6 + 3 * static_cast<std::size_t>(p);
        x = r[0];
        y = r[1];
        v = r[2];
      } else {  // yolov8-pose: channel-major, keypoint channels after the class scores
        const std::size_t ch = dim0 - 3 * static_cast<std::size_t>(num_keypoints - p);
        x = output[ch * dim1 + src];
        y = output[(ch + 1) * dim1 + src];
        v = output[(ch + 2) * dim1 + src];
      }
      d.keypoints.push_back(static_cast<float>(t.source_x_from_model(x)));
      d.keypoints.push_back(static_cast<float>(t.source_y_from_model(y)));
      d.keypoints.push_back(v);
    }
  }
  return d;
}

}  // namespace walkout::detect
