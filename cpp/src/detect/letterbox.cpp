#include "walkout/detect/letterbox.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "walkout/common/parallel.hpp"
#include "letterbox_kernels.hpp"

namespace walkout::detect {

LetterboxConvention parse_letterbox_convention(const std::string& name) {
  if (name == "ultralytics") return LetterboxConvention::ultralytics;
  if (name == "yolox") return LetterboxConvention::yolox;
  throw std::invalid_argument("convention: expected \"ultralytics\" or \"yolox\", got \"" + name +
                              "\"");
}

LetterboxGeometry letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h,
                                     LetterboxConvention convention) {
  if (src_w <= 0 || src_h <= 0) throw std::invalid_argument("frames: a frame has no pixels");
  if (dst_w <= 0 || dst_h <= 0) throw std::invalid_argument("size: expected positive sides");
  // Both conventions compute the gain in double precision, as the Python originals do.
  const double r = std::min(static_cast<double>(dst_h) / src_h, static_cast<double>(dst_w) / src_w);
  LetterboxGeometry g;
  if (convention == LetterboxConvention::ultralytics) {
    // Python's round() is round-half-to-even, which is what nearbyint does in the default mode.
    g.resized_w = static_cast<int>(std::nearbyint(src_w * r));
    g.resized_h = static_cast<int>(std::nearbyint(src_h * r));
    const double dw = (dst_w - g.resized_w) / 2.0, dh = (dst_h - g.resized_h) / 2.0;
    g.pad_x = static_cast<int>(std::nearbyint(dw - 0.1));
    g.pad_y = static_cast<int>(std::nearbyint(dh - 0.1));
  } else {
    g.resized_w = static_cast<int>(src_w * r);
    g.resized_h = static_cast<int>(src_h * r);
  }
  // A frame far more elongated than the input would round to 0 pixels; keep one.
  g.resized_w = std::clamp(g.resized_w, 1, dst_w);
  g.resized_h = std::clamp(g.resized_h, 1, dst_h);
  return g;
}

namespace {

// OpenCV's fixed point for 8-bit linear resize: weights in 1/2048 (INTER_RESIZE_COEF_BITS = 11).
constexpr int kCoefBits = 11;
constexpr float kCoefScale = static_cast<float>(1 << kCoefBits);
constexpr int kPadGrey = 114;

// One output column (or row) of the resize: the two source pixels it blends and their weights.
struct Tap {
  int first = 0;   // source index of the left/top pixel
  int second = 0;  // source index of the right/bottom pixel (clamped into the image)
  int w_first = 0;
  int w_second = 0;
};

// Taps for resizing src pixels to dst pixels along one axis, exactly as cv::resize computes
// them: pixel centres map as f = (d + 0.5) * scale - 0.5 with scale = 1 / (dst / src) in
// double, then f is rounded to float; weights are saturate_cast<short>(w * 2048), i.e. rounded
// half to even. The two axes differ at the borders, as in OpenCV: a column before the first or
// after the last pixel takes that pixel with weight 1 (`clamp_weights`), while a row there keeps
// its fractional weights and only its row indices are clamped into the image.
std::vector<Tap> resize_taps(int src, int dst, bool clamp_weights) {
  std::vector<Tap> taps(static_cast<std::size_t>(dst));
  const double inv_scale = static_cast<double>(dst) / src;
  const double scale = 1.0 / inv_scale;
  for (int d = 0; d < dst; ++d) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    if (clamp_weights && s < 0) {
      s = 0;
      f = 0.0f;
    }
    if (clamp_weights && s >= src - 1) {
      s = src - 1;
      f = 0.0f;
    }
    Tap& t = taps[static_cast<std::size_t>(d)];
    t.first = std::clamp(s, 0, src - 1);
    t.second = std::clamp(s + 1, 0, src - 1);
    t.w_first = static_cast<int>(std::nearbyint((1.0f - f) * kCoefScale));
    t.w_second = static_cast<int>(std::nearbyint(f * kCoefScale));
  }
  return taps;
}

// Column taps as the row kernels want them (byte offsets, separate arrays).
kernels::ColumnTaps column_taps(const std::vector<Tap>& taps, int src_w) {
  kernels::ColumnTaps c;
  for (const Tap& t : taps) {
    c.first_offset.push_back(3 * t.first);
    c.second_offset.push_back(3 * t.second);
    c.w_first.push_back(t.w_first);
    c.w_second.push_back(t.w_second);
    // A 4-byte word at pixel p ends at byte 3p + 4 <= 3 * src_w while p <= src_w - 2; the taps
    // only move right, so the safe columns are a prefix.
    if (t.second <= src_w - 2 && c.gather_safe == static_cast<int>(c.first_offset.size()) - 1) {
      ++c.gather_safe;
    }
  }
  return c;
}

// Everything one frame needs, computed once before the rows are split across threads.
struct FramePlan {
  FrameView frame;
  LetterboxGeometry geometry;
  kernels::ColumnTaps cols;  // resized_w columns
  std::vector<Tap> rows;     // resized_h rows, in source rows
  // Every column and row sits exactly on a source pixel centre (weights 2048 and 0), as in a
  // downscale by an odd whole factor (1920x1080 -> 640x360 is 3x): bilinear then equals point
  // sampling, and OpenCV's fixed point returns the source value unchanged:
  // (((2048 * ((v * 2048) >> 4)) >> 16) + 2) >> 2 == v.
  bool point_sampled = false;
};

bool all_point_taps(const std::vector<Tap>& taps) {
  return std::all_of(taps.begin(), taps.end(),
                     [](const Tap& t) { return t.w_first == (1 << kCoefBits) && t.w_second == 0; });
}

// Scratch of one thread: the horizontal pass of the two most recent source rows, kept so that
// upscaling (where neighbouring output rows share source rows) does not redo them.
struct RowCache {
  std::vector<std::int32_t> data[2];  // 3 planes x width each
  int source_row[2] = {-1, -1};
  const FramePlan* plan[2] = {nullptr, nullptr};

  const std::int32_t* get(const FramePlan& p, int row, int avoid_slot, int* slot_out) {
    for (int s = 0; s < 2; ++s) {
      if (plan[s] == &p && source_row[s] == row) {
        *slot_out = s;
        return data[s].data();
      }
    }
    const int s = avoid_slot == 0 ? 1 : 0;
    const int w = p.geometry.resized_w;
    data[s].resize(static_cast<std::size_t>(3 * w));
    std::int32_t* d = data[s].data();
    std::int32_t* const planes[3] = {d, d + w, d + 2 * w};
    kernels::horizontal_row(p.frame.data + static_cast<std::ptrdiff_t>(row) * p.frame.row_stride,
                            p.cols, w, planes);
    plan[s] = &p;
    source_row[s] = row;
    *slot_out = s;
    return d;
  }
};

void fill(float* p, int n, float v) { std::fill(p, p + n, v); }

// Writes output row y (all three planes) of one frame.
void letterbox_row(const FramePlan& p, int y, int dst_w, int dst_h, const int* channel_of_plane,
                   bool divide, float* tensor, RowCache& cache) {
  const std::size_t plane_size = static_cast<std::size_t>(dst_w) * static_cast<std::size_t>(dst_h);
  float* planes[3];
  for (int c = 0; c < 3; ++c) {
    planes[c] = tensor + c * plane_size + static_cast<std::size_t>(y) * dst_w;
  }
  const float pad_value = kernels::model_value(kPadGrey, divide);
  const LetterboxGeometry& g = p.geometry;
  const int ry = y - g.pad_y;
  if (ry < 0 || ry >= g.resized_h) {
    for (float* plane : planes) fill(plane, dst_w, pad_value);
    return;
  }
  const int right = g.pad_x + g.resized_w;
  for (float*& plane : planes) {
    fill(plane, g.pad_x, pad_value);
    fill(plane + right, dst_w - right, pad_value);
    plane += g.pad_x;
  }
  const Tap& r = p.rows[static_cast<std::size_t>(ry)];
  if (p.point_sampled) {
    kernels::point_row(p.frame.data + static_cast<std::ptrdiff_t>(r.first) * p.frame.row_stride,
                       p.cols, g.resized_w, channel_of_plane, divide, planes);
    return;
  }
  // OpenCV clamps the second row into the image and blends it even when its weight is 0; the
  // weight-0 product contributes exactly 0, so reusing the first row then is the same result.
  int slot_top = -1, slot_bottom = -1;
  const std::int32_t* top = cache.get(p, r.first, -1, &slot_top);
  const std::int32_t* bottom =
      r.w_second == 0 ? top : cache.get(p, r.second, slot_top, &slot_bottom);
  const int w = g.resized_w;
  for (int c = 0; c < 3; ++c) {
    const int src_c = channel_of_plane[c];
    kernels::vertical_row(top + src_c * w, bottom + src_c * w, r.w_first, r.w_second, w, divide,
                          planes[c]);
  }
}

}  // namespace

const char* letterbox_kernel_isa() { return kernels::kernel_isa(); }

void letterbox(const std::vector<FrameView>& frames, int dst_w, int dst_h,
               LetterboxConvention convention, float* out, LetterboxTransform* transforms,
               std::size_t threads) {
  std::vector<FramePlan> plans(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    FramePlan& p = plans[i];
    p.frame = frames[i];
    p.geometry = letterbox_geometry(p.frame.width, p.frame.height, dst_w, dst_h, convention);
    const auto cols = resize_taps(p.frame.width, p.geometry.resized_w, /*clamp_weights=*/true);
    p.cols = column_taps(cols, p.frame.width);
    p.rows = resize_taps(p.frame.height, p.geometry.resized_h, /*clamp_weights=*/false);
    p.point_sampled = all_point_taps(cols) && all_point_taps(p.rows);
    LetterboxTransform& t = transforms[i];
    t.scale_x = static_cast<double>(p.geometry.resized_w) / p.frame.width;
    t.scale_y = static_cast<double>(p.geometry.resized_h) / p.frame.height;
    t.pad_x = p.geometry.pad_x;
    t.pad_y = p.geometry.pad_y;
    t.src_w = p.frame.width;
    t.src_h = p.frame.height;
  }
  const bool divide = convention == LetterboxConvention::ultralytics;  // values / 255
  // Ultralytics feeds RGB: plane 0 is the source's third byte (R of BGR). YOLOX keeps BGR.
  static constexpr int kRgb[3] = {2, 1, 0};
  static constexpr int kBgr[3] = {0, 1, 2};
  const int* channel_of_plane = convention == LetterboxConvention::ultralytics ? kRgb : kBgr;
  const std::size_t image_size = 3 * static_cast<std::size_t>(dst_w) * dst_h;
  const std::size_t total_rows = frames.size() * static_cast<std::size_t>(dst_h);
  // 16 rows (~40 k output values) per chunk at least: below that a thread start costs more
  // than the rows.
  parallel_for(
      total_rows,
      [&](std::size_t begin, std::size_t end) {
        RowCache cache;
        for (std::size_t row = begin; row < end; ++row) {
          const std::size_t f = row / static_cast<std::size_t>(dst_h);
          const int y = static_cast<int>(row % static_cast<std::size_t>(dst_h));
          letterbox_row(plans[f], y, dst_w, dst_h, channel_of_plane, divide,
                        out + f * image_size, cache);
        }
      },
      threads, 16);
}

}  // namespace walkout::detect
