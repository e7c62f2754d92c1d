// Included first by every public header, so that a consumer on an older standard
// reads one clear line instead of errors from the C++20 features the headers use.
#pragma once

// MSVC keeps __cplusplus at 199711L without /Zc:__cplusplus; _MSVC_LANG holds its standard.
#if defined(_MSVC_LANG) ? _MSVC_LANG < 202002L : __cplusplus < 202002L
#error "ember-xcs needs C++20 or later: compile with -std=c++20"
#endif
