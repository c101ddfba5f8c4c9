// repo_ref.cpp — see repo_ref.h.
#include "hub/repo_ref.h"

#include <cctype>

namespace f8hub {

namespace {
bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

bool valid_part(const std::string& p, std::string* why) {
  if (p.empty()) {
    *why = "an empty name part";
    return false;
  }
  if (p.size() > 96) {
    *why = "a name part longer than 96 characters";
    return false;
  }
  for (char c : p)
    if (!name_char(c)) {
      *why = std::string("the character '") + c + "' (allowed: letters, digits, '-', '_', '.')";
      return false;
    }
  if (p.front() == '-' || p.front() == '.' || p.back() == '-' || p.back() == '.') {
    *why = "a name part starting or ending with '-' or '.'";
    return false;
  }
  return true;
}
}  // namespace

bool valid_repo_id(const std::string& id, std::string* why) {
  std::string dummy;
  if (!why) why = &dummy;
  const size_t slash = id.find('/');
  if (slash != std::string::npos && id.find('/', slash + 1) != std::string::npos) {
    *why = "more than one '/' (expected ORG/NAME)";
    return false;
  }
  if (id.find("--") != std::string::npos || id.find("..") != std::string::npos) {
    *why = "'--' or '..' (not allowed in Hub repo ids)";
    return false;
  }
  if (slash == std::string::npos) return valid_part(id, why);
  return valid_part(id.substr(0, slash), why) && valid_part(id.substr(slash + 1), why);
}

bool valid_revision(const std::string& rev, std::string* why) {
  std::string dummy;
  if (!why) why = &dummy;
  if (rev.empty() || rev.size() > 255) {
    *why = rev.empty() ? "an empty revision" : "a revision longer than 255 bytes";
    return false;
  }
  size_t a = 0;
  while (a <= rev.size()) {
    size_t b = rev.find('/', a);
    if (b == std::string::npos) b = rev.size();
    const std::string part = rev.substr(a, b - a);
    if (part.empty() || part == "." || part == "..") {
      *why = "an empty, '.' or '..' path component in the revision";
      return false;
    }
    a = b + 1;
  }
  for (unsigned char c : rev)
    if (c < 0x20 || c == 0x7f || c == '\\') {
      *why = "a control character or backslash in the revision";
      return false;
    }
  return true;
}

bool parse_repo_ref(const std::string& text, RepoRef* out, std::string* err) {
  RepoRef r;
  std::string why;
  const size_t at = text.find('@');
  r.repo = text.substr(0, at);
  if (at != std::string::npos) {
    r.revision = text.substr(at + 1);
    r.revision_given = true;
    if (!valid_revision(r.revision, &why)) {
      *err = "'" + text + "': " + why;
      return false;
    }
  }
  if (!valid_repo_id(r.repo, &why)) {
    *err = "'" + text + "' is not a Hub repo (ORG/NAME[@REVISION]): " + why;
    return false;
  }
  *out = r;
  return true;
}

bool looks_like_repo(const std::string& text) {
  RepoRef r;
  std::string err;
  if (text.size() >= 3 && text.compare(text.size() - 3, 3, ".f8") == 0) return false;
  if (!parse_repo_ref(text, &r, &err)) return false;
  return r.repo.find('/') != std::string::npos;
}

bool is_commit_hash(const std::string& s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string repo_folder_name(const std::string& repo) {
  std::string out = "models";
  size_t a = 0;
  while (a <= repo.size()) {
    size_t b = repo.find('/', a);
    if (b == std::string::npos) b = repo.size();
    out += "--" + repo.substr(a, b - a);
    a = b + 1;
  }
  return out;
}

std::string revision_file_component(const std::string& rev) {
  std::string out = rev;
  for (char& c : out)
    if (!name_char(c)) c = '_';
  return out;
}

}  // namespace f8hub
