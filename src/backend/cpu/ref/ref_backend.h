// ref_backend.h — factory for cpu/ref, the scalar oracle backend.
#pragma once
#include <memory>

#include "backend/backend.h"

namespace f8backend::cpu {
std::unique_ptr<Backend> make_ref_backend();
}
