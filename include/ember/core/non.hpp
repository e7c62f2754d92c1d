// Ember's NON operators (networks of networks): ensembles, majority vote,
// judges and a verifier over model operators, and a chain of stages.
#pragma once

#include "ember/core/non/judge_synthesis.hpp"
#include "ember/core/non/most_common.hpp"
#include "ember/core/non/selector_judge.hpp"
#include "ember/core/non/sequential.hpp"
#include "ember/core/non/uniform_ensemble.hpp"
#include "ember/core/non/varied_ensemble.hpp"
#include "ember/core/non/verifier.hpp"
