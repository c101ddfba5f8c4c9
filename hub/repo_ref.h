// repo_ref.h — naming a Hugging Face Hub model: "ORG/NAME[@REVISION]", the
// checks huggingface_hub applies to repo ids, and the names derived from them
// (the cache folder "models--ORG--NAME"). Pure string logic, no I/O.
#pragma once

#include <string>

namespace f8hub {

inline constexpr const char* kDefaultRevision = "main";  // huggingface_hub's DEFAULT_REVISION

struct RepoRef {
  std::string repo;               // "ORG/NAME" (or a legacy top-level "NAME")
  std::string revision = kDefaultRevision;  // branch, tag or commit
  bool revision_given = false;    // "@REV" was written (even "@main")
};

// Parses "ORG/NAME[@REV]" / "NAME[@REV]". False with *err naming what is wrong.
bool parse_repo_ref(const std::string& text, RepoRef* out, std::string* err);

// huggingface_hub's validate_repo_id: one or two parts of [A-Za-z0-9._-],
// no "--" or "..", not starting or ending with '-' or '.', at most 96 chars
// per part.
bool valid_repo_id(const std::string& id, std::string* why);
// A branch, tag or commit that is safe as a path below refs/: no empty, "."
// or ".." component, no control characters, no backslash, <= 255 bytes.
bool valid_revision(const std::string& rev, std::string* why);

// `-m` heuristic: the text has the shape ORG/NAME[@REV] (exactly one '/',
// a valid repo id) and does not end in ".f8". The caller checks first that
// no file of that name exists (an existing path always wins).
bool looks_like_repo(const std::string& text);

// A full commit id: 40 lowercase hex digits.
bool is_commit_hash(const std::string& s);

// "models--ORG--NAME": the repo's folder in the huggingface_hub cache.
std::string repo_folder_name(const std::string& repo);

// The revision as one file-name component: characters outside
// [A-Za-z0-9._-] (e.g. the '/' of "refs/pr/1") become '_'.
std::string revision_file_component(const std::string& rev);

}  // namespace f8hub
