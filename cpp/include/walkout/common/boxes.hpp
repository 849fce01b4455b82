// Axis-aligned boxes in image pixels, shared by detection (NMS) and tracking (IoU costs).
//
// Layouts: xyxy = (x1, y1, x2, y2) with x1 <= x2, y1 <= y2 for a valid box; cxcywh = centre
// and size. A degenerate box (zero or negative width or height) has area 0 and IoU 0 with
// everything, itself included, so it never suppresses or matches anything.
#pragma once

#include <algorithm>

namespace walkout::boxes {

template <class T>
inline T area_xyxy(const T* b) {
  const T w = b[2] - b[0];
  const T h = b[3] - b[1];
  return (w > T(0) && h > T(0)) ? w * h : T(0);
}

// Intersection over union of two xyxy boxes; 0 when either is degenerate.
template <class T>
inline T iou_xyxy(const T* a, const T* b) {
  const T iw = std::min(a[2], b[2]) - std::max(a[0], b[0]);
  const T ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (!(iw > T(0)) || !(ih > T(0))) return T(0);
  const T inter = iw * ih;
  const T uni = area_xyxy(a) + area_xyxy(b) - inter;
  return uni > T(0) ? inter / uni : T(0);
}

template <class T>
inline void cxcywh_to_xyxy(const T* in, T* out) {
  const T cx = in[0], cy = in[1], hw = in[2] / T(2), hh = in[3] / T(2);
  out[0] = cx - hw;
  out[1] = cy - hh;
  out[2] = cx + hw;
  out[3] = cy + hh;
}

template <class T>
inline void xyxy_to_cxcywh(const T* in, T* out) {
  const T w = in[2] - in[0], h = in[3] - in[1];
  out[0] = in[0] + w / T(2);
  out[1] = in[1] + h / T(2);
  out[2] = w;
  out[3] = h;
}

}  // namespace walkout::boxes
