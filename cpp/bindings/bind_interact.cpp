// Python bindings of the interact room (cpp/src/interact/). Registered by module.cpp into walkout._core.
#include <pybind11/pybind11.h>

#include "ndarray.hpp"

namespace py = pybind11;

namespace walkout::bindings {

void bind_interact(py::module_& m) {
  (void)m;  // The interact room registers its functions here as it lands.
}

}  // namespace walkout::bindings
