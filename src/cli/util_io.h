// util_io.h — small file helpers shared by the subcommands.
#pragma once

#include <string>

namespace f8cli {

// Reads a whole file (binary) into *out; "-" reads standard input.
// Returns false if it cannot be opened or a read fails.
bool read_file(const std::string& path, std::string* out);

}  // namespace f8cli
