// Argument checks of the source and operator factories. A bad argument throws
// std::invalid_argument (ValueError in Python) naming the call, the argument, its value
// and the valid range, when the pipeline is built rather than when it runs.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace seqkit {

// "<call>(): <argument> must be <range>, got <value>".
[[noreturn]] inline void bad_argument(const std::string& call, const std::string& argument,
                                      const std::string& value, const std::string& range) {
  throw std::invalid_argument(call + "(): " + argument + " must be " + range + ", got " + value);
}

inline void require_at_least(const std::string& call, const std::string& argument, std::int64_t value,
                             std::int64_t minimum) {
  if (value < minimum) {
    bad_argument(call, argument, std::to_string(value), ">= " + std::to_string(minimum));
  }
}

}  // namespace seqkit
