// Everything a plain C++ program needs from ember-xcs, in one include. The CAF
// actor interface is separate: <ember/xcs/runtime/operator_actor.hpp>.
#pragma once

#include "ember/core/exceptions.hpp"
#include "ember/core/registry/operator/base/async_operator.hpp"
#include "ember/core/registry/operator/base/function_operator.hpp"
#include "ember/core/registry/operator/base/operator_base.hpp"
#include "ember/core/registry/operator/base/operator_ref.hpp"
#include "ember/core/registry/operator/base/typed_operator.hpp"
#include "ember/core/registry/specification.hpp"
#include "ember/core/types/json.hpp"
#include "ember/core/types/record.hpp"
#include "ember/core/types/record_convert.hpp"
#include "ember/xcs/engine/execution_context.hpp"
#include "ember/xcs/engine/execution_options.hpp"
#include "ember/xcs/engine/option_parsing.hpp"
#include "ember/xcs/engine/result_cache.hpp"
#include "ember/xcs/runtime/envelope.hpp"
#include "ember/xcs/runtime/runtime.hpp"
#include "ember/xcs/runtime/this_call.hpp"
#include "ember/xcs/transforms/pmap.hpp"
#include "ember/xcs/transforms/vmap.hpp"
#include "ember/xcs/tracer/execution_trace.hpp"
