//===- ScopedEnv.h - an environment variable set for one test's scope -----===//
#pragma once

#include <cstdlib>
#include <optional>
#include <string>

namespace xf::test {

/// Sets `name` to `value` and restores what it was (or unsets it) when destroyed, failed assertions included.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *before = std::getenv(name))
      saved = before;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (saved)
      ::setenv(name.c_str(), saved->c_str(), 1);
    else
      ::unsetenv(name.c_str());
  }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;

private:
  std::string name;
  std::optional<std::string> saved;
};

} // namespace xf::test
