// Shared helpers for the binding files: numpy arrays in and out, with shape checks whose
// messages name the argument and the shape that was expected.
//
// Every binding converts its inputs with these *before* releasing the GIL, so that the C++
// code that runs without the GIL only ever touches plain pointers into arrays it holds.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>

namespace walkout::bindings {

namespace py = pybind11;

// C-contiguous array of T; converts (copies) only when the input is not already a
// C-contiguous T array, so float32/float64 inputs in the right layout pass through untouched.
template <class T>
using carray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// Shape with -1 for "any size" in that dimension.
inline std::string shape_text(std::initializer_list<py::ssize_t> shape) {
  std::ostringstream s;
  s << "(";
  bool first = true;
  for (auto d : shape) {
    if (!first) s << ", ";
    first = false;
    if (d < 0) s << "N"; else s << d;
  }
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

inline std::string actual_shape(const py::array& a) {
  std::ostringstream s;
  s << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s << ", ";
    s << a.shape(i);
  }
  if (a.ndim() == 1) s << ",";
  s << ")";
  return s.str();
}

// Throws std::invalid_argument (Python ValueError) unless `a` has the given shape.
inline void require_shape(const py::array& a, const char* name,
                          std::initializer_list<py::ssize_t> shape) {
  bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
  if (ok) {
    py::ssize_t i = 0;
    for (auto d : shape) {
      if (d >= 0 && a.shape(i) != d) ok = false;
      ++i;
    }
  }
  if (!ok) {
    throw std::invalid_argument(std::string(name) + ": expected shape " + shape_text(shape) +
                                ", got " + actual_shape(a));
  }
}

// Throws std::invalid_argument unless `a` is exactly a C-contiguous array of T (no silent
// conversion): for hot paths whose contract is "give me float32, contiguous".
template <class T>
inline void require_exact(const py::array& a, const char* name) {
  if (!py::isinstance<py::array_t<T>>(a) || !(a.flags() & py::array::c_style)) {
    throw std::invalid_argument(std::string(name) + ": expected a C-contiguous " +
                                py::str(py::dtype::of<T>()).cast<std::string>() +
                                " array, got dtype " + py::str(a.dtype()).cast<std::string>() +
                                ((a.flags() & py::array::c_style) ? "" : " (not C-contiguous)"));
  }
}

}  // namespace walkout::bindings
