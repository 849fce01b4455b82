// Letterbox preprocessing: camera frames (uint8, H x W x 3, BGR, any size each) into one float32
// NCHW batch tensor for the detector, in one pass per output row: bilinear resize that keeps
// the aspect ratio, constant padding, channel order and value scale, written straight into the
// planar tensor. No intermediate resized image, no separate transpose or divide.
//
// The resize reproduces OpenCV's cv::resize(INTER_LINEAR) for 8-bit images: the same pixel
// centre mapping, the same 11-bit fixed-point column and row weights, the same integer rounding
// (resize.cpp: HResizeLinear then VResizeLinear with FixedPtCast), so the model sees what the
// OpenCV pipeline it was validated with would have given it.
//
// Inputs: frames; output size (dst_w, dst_h); convention. Outputs: the tensor (B, 3, dst_h,
// dst_w), and per frame the LetterboxTransform (walkout/detect/transform.hpp) that maps boxes
// back. Example: a 1920x1080 frame to 640x640 (ultralytics): resized to 640x360, padded 140 rows
// above and below, scale 1/3, pad (0, 140).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "walkout/detect/transform.hpp"

namespace walkout::detect {

// How a model family expects its input; named in the model's config.
enum class LetterboxConvention {
  // Ultralytics YOLOv8/YOLO11 (LetterBox(auto=False, center=True)): RGB, values / 255, resized
  // size round(side * r), padding split around the image (top/left = round(d/2 - 0.1)), 114.
  ultralytics,
  // YOLOX (preproc in yolox/data/data_augment.py): BGR, values 0..255, resized size
  // int(side * r) (truncated), image in the top-left corner, padding 114 right and below.
  yolox,
};

// Parses "ultralytics" or "yolox"; throws std::invalid_argument naming `convention` otherwise.
LetterboxConvention parse_letterbox_convention(const std::string& name);

// A view of one camera frame: rows of width*3 bytes (B, G, R), `row_stride` bytes apart.
struct FrameView {
  const std::uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  std::ptrdiff_t row_stride = 0;
};

// Where the resized image lands in the model input.
struct LetterboxGeometry {
  int resized_w = 0;  // width of the resized image, model pixels
  int resized_h = 0;  // height of the resized image
  int pad_x = 0;      // columns of padding left of it
  int pad_y = 0;      // rows of padding above it
};

// The geometry a convention gives for a src_w x src_h frame into a dst_w x dst_h input.
LetterboxGeometry letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h,
                                     LetterboxConvention convention);

// Which row kernels run: "avx2" (x86-64 with AVX2 and FMA) or "portable". The environment
// variable WALKOUT_PORTABLE_KERNELS, set before the module loads, forces "portable".
const char* letterbox_kernel_isa();

// Letterboxes frames[i] into out + i * 3 * dst_h * dst_w and writes transforms[i].
// threads: how many threads split the output rows (all frames' rows together); 0 = one per
// core, 1 = the calling thread only. More threads finish a batch sooner but take cores from
// the capture and inference threads that run beside it on an edge box.
// Must be called without the GIL; touches only the memory it is given.
void letterbox(const std::vector<FrameView>& frames, int dst_w, int dst_h,
               LetterboxConvention convention, float* out, LetterboxTransform* transforms,
               std::size_t threads);

}  // namespace walkout::detect
