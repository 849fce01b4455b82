// Checking the parameters a room's C++ objects are built with: one error format everywhere,
// "name: expected ...", which the bindings pass on to Python as ValueError.
#pragma once

#include <stdexcept>
#include <string>

namespace walkout {

inline void require(bool ok, const char* name, const std::string& expected) {
  if (!ok) throw std::invalid_argument(std::string(name) + ": expected " + expected);
}

}  // namespace walkout
