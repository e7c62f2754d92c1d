// The model client: provider endpoints as asynchronous operators, a registry
// of "provider:model" ids, retries and usage.
#pragma once

#include "ember/models/chat_model.hpp"
#include "ember/models/errors.hpp"
#include "ember/models/fallback.hpp"
#include "ember/models/model_registry.hpp"
#include "ember/models/rate_limiter.hpp"
#include "ember/models/usage.hpp"
