#include "args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace f8cli {

namespace {
std::vector<std::string> split_names(const char* names) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = names; *p; ++p) {
    if (*p == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (*p != ' ') {
      cur += *p;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string fmt_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "f8: error: %s\n", msg.c_str());
  return code;
}

ArgParser::ArgParser(std::string prog, std::string usage, std::string description)
    : prog_(std::move(prog)), usage_(std::move(usage)), desc_(std::move(description)) {}

void ArgParser::option(const char* names, std::string* dst, const char* metavar,
                       const char* help, bool required) {
  opts_.push_back({split_names(names), Kind::Str, dst, metavar, help, *dst, required});
}
void ArgParser::option(const char* names, int64_t* dst, const char* metavar, const char* help) {
  opts_.push_back({split_names(names), Kind::Int, dst, metavar, help, std::to_string(*dst)});
}
void ArgParser::option(const char* names, double* dst, const char* metavar, const char* help) {
  opts_.push_back({split_names(names), Kind::Real, dst, metavar, help, fmt_double(*dst)});
}
void ArgParser::option(const char* names, std::vector<std::string>* dst, const char* metavar,
                       const char* help) {
  opts_.push_back({split_names(names), Kind::List, dst, metavar, help, ""});
}
void ArgParser::flag(const char* names, bool* dst, const char* help) {
  opts_.push_back({split_names(names), Kind::Flag, dst, "", help, ""});
}
void ArgParser::positional(const char* name, std::string* dst, const char* help, bool required) {
  pos_.push_back({name, dst, help, required});
}
void ArgParser::epilog(std::string text) { epilog_ = std::move(text); }

ArgParser::Opt* ArgParser::find(const std::string& name) {
  for (auto& o : opts_)
    for (auto& n : o.names)
      if (n == name) return &o;
  return nullptr;
}

bool ArgParser::given(const char* name) const {
  for (auto& o : opts_)
    for (auto& n : o.names)
      if (n == name) return o.seen;
  return false;
}

bool ArgParser::set_value(Opt& o, const std::string& name, const std::string& v,
                          std::string* err) {
  switch (o.kind) {
    case Kind::Str:
      *static_cast<std::string*>(o.dst) = v;
      return true;
    case Kind::List:
      static_cast<std::vector<std::string>*>(o.dst)->push_back(v);
      return true;
    case Kind::Int: {
      errno = 0;
      char* end = nullptr;
      long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || errno == ERANGE) {
        *err = name + " expects an integer, got '" + v + "'";
        return false;
      }
      *static_cast<int64_t*>(o.dst) = x;
      return true;
    }
    case Kind::Real: {
      errno = 0;
      char* end = nullptr;
      double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x)) {
        *err = name + " expects a finite number, got '" + v + "'";
        return false;
      }
      *static_cast<double*>(o.dst) = x;
      return true;
    }
    case Kind::Flag:
      *static_cast<bool*>(o.dst) = true;
      return true;
  }
  return false;
}

bool ArgParser::parse(int argc, char** argv, int* exit_code) {
  size_t npos = 0;
  bool only_pos = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (!only_pos && (a == "-h" || a == "--help")) {
      std::fputs(help().c_str(), stdout);
      *exit_code = 0;
      return false;
    }
    if (!only_pos && a == "--") {
      only_pos = true;
      continue;
    }
    if (!only_pos && a.size() > 1 && a[0] == '-' &&
        !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.') &&
          npos < pos_.size())) {
      std::string name = a, val;
      bool has_inline = false;
      auto eq = a.find('=');
      if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
        name = a.substr(0, eq);
        val = a.substr(eq + 1);
        has_inline = true;
      }
      Opt* o = find(name);
      if (!o) {
        *exit_code = fail(2, prog_ + ": unknown option '" + name + "' (see --help)");
        return false;
      }
      o->seen = true;
      if (o->kind == Kind::Flag) {
        if (has_inline) {
          *exit_code = fail(2, prog_ + ": " + name + " takes no value");
          return false;
        }
        *static_cast<bool*>(o->dst) = true;
        continue;
      }
      if (!has_inline) {
        if (i + 1 >= argc) {
          *exit_code = fail(2, prog_ + ": " + name + " needs a value (" + o->metavar + ")");
          return false;
        }
        val = argv[++i];
      }
      std::string err;
      if (!set_value(*o, name, val, &err)) {
        *exit_code = fail(2, prog_ + ": " + err);
        return false;
      }
      continue;
    }
    if (npos >= pos_.size()) {
      *exit_code = fail(2, prog_ + ": unexpected argument '" + a + "' (see --help)");
      return false;
    }
    *pos_[npos++].dst = a;
  }
  for (size_t k = npos; k < pos_.size(); ++k) {
    if (pos_[k].required) {
      *exit_code = fail(2, prog_ + ": missing " + pos_[k].name + " (see --help)");
      return false;
    }
  }
  for (auto& o : opts_) {
    if (o.required && !o.seen) {
      *exit_code = fail(2, prog_ + ": missing required option " + o.names.back() + " " +
                               o.metavar + " (see --help)");
      return false;
    }
  }
  return true;
}

std::string ArgParser::help() const {
  std::ostringstream s;
  s << "usage: " << prog_ << " " << usage_ << "\n\n" << desc_ << "\n";
  if (!pos_.empty()) {
    s << "\narguments:\n";
    for (auto& p : pos_) {
      std::string left = "  " + p.name;
      s << left;
      for (size_t k = left.size(); k < 28; ++k) s << ' ';
      s << (left.size() >= 28 ? "\n                            " : "") << p.help << "\n";
    }
  }
  s << "\noptions:\n";
  for (auto& o : opts_) {
    std::string left = "  ";
    for (size_t k = 0; k < o.names.size(); ++k) left += (k ? ", " : "") + o.names[k];
    if (o.kind != Kind::Flag) left += " " + o.metavar;
    s << left;
    if (left.size() >= 28)
      s << "\n" << std::string(28, ' ');
    else
      s << std::string(28 - left.size(), ' ');
    s << o.help;
    if (o.required)
      s << " (required)";
    else if (o.kind != Kind::Flag && o.kind != Kind::List && !o.def.empty())
      s << " (default: " << o.def << ")";
    s << "\n";
  }
  s << "  -h, --help                show this help\n";
  if (!epilog_.empty()) s << "\n" << epilog_ << "\n";
  return s.str();
}

}  // namespace f8cli
