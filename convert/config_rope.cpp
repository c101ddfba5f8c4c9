// config_rope.cpp — the RoPE description of a config.json, resolved as
// transformers resolves it.
//
// Where a config may state RoPE:
//   transformers 4: top-level "rope_theta", "rope_scaling" {rope_type|type,
//                   factor, ...}, top-level "partial_rotary_factor" (Phi-3)
//   transformers 5: "rope_parameters" {rope_theta, rope_type, factor, ...};
//                   Gemma 3: one object per layer type
// transformers 5 (PreTrainedConfig.convert_rope_params_to_dict): a non-empty
// "rope_scaling" replaces "rope_parameters" whole; then top-level rope_theta
// / partial_rotary_factor fill only what the object lacks. transformers 4
// never reads "rope_parameters". So a field stated twice with different
// values is a contradiction only when the two versions would use different
// values; then the error says which value each uses.
#include <cmath>
#include <map>

#include "convert/config_read.h"

namespace f8conv::cfg {

namespace {

struct Stated {
  std::string where;  // "rope_theta", "rope_parameters.factor", ...
  json value;
  int rank;           // 0 top level, 1 rope_parameters, 2 rope_scaling
};

bool same_value(const json& a, const json& b) {
  if (a == b) return true;
  return a.is_number() && b.is_number() && a.get<double>() == b.get<double>();
}

std::string join(const std::set<std::string>& s) {
  std::string l;
  for (const auto& a : s) l += (l.empty() ? "" : ", ") + a;
  return l;
}

}  // namespace

Status read_rope(Reader& r, float default_theta, HParams* hp, Notes* notes) {
  const json& j = r.obj();
  const std::string& file = r.file();
  const bool gemma3 = hp->arch == "gemma3";
  std::map<std::string, std::vector<Stated>> fields;  // canonical field -> every statement
  auto state = [&](const std::string& field, const std::string& where, const json& v, int rank) {
    if (!v.is_null()) fields[field].push_back({r.name(where), v, rank});
  };
  if (r.has("rope_theta")) state("rope_theta", "rope_theta", j["rope_theta"], 0);
  if (r.has("partial_rotary_factor")) state("partial_rotary_factor", "partial_rotary_factor", j["partial_rotary_factor"], 0);
  if (gemma3 && r.has("rope_local_base_freq"))
    state("rope_local_theta", "rope_local_base_freq", j["rope_local_base_freq"], 0);

  // transformers 5: a non-empty rope_scaling replaces rope_parameters.
  const bool scaling_given = r.has("rope_scaling") && j["rope_scaling"].is_object() && !j["rope_scaling"].empty();
  for (const char* obj : {"rope_parameters", "rope_scaling"}) {
    if (!r.has(obj)) continue;
    const json& o = j[obj];
    if (!o.is_object()) return r.fail(Code::BadType, obj, "must be an object or null, got " + o.dump().substr(0, 200));
    const int rank = std::string(obj) == "rope_scaling" ? 2 : 1;
    if (rank == 1 && scaling_given) {
      notes->push_back(r.name("rope_parameters") + " is not read: rope_scaling is given and transformers uses it instead");
      continue;
    }
    // Gemma 3 (transformers 5): one RoPE per layer type. The full_attention
    // one is the model's RoPE; sliding_attention must be an unscaled RoPE
    // whose theta is the local base (rope_local_base_freq).
    std::string per_type;
    for (const auto& [k, v] : o.items())
      if (v.is_object() && per_type.empty()) per_type = k;
    if (!per_type.empty()) {
      if (!gemma3)
        return Status::Error(Code::BadType, file + ": \"" + r.name(std::string(obj) + "." + per_type) +
                                                "\": per-layer-type RoPE parameters are not supported for " + hp->hf_arch);
      for (const auto& [k, v] : o.items()) {
        const std::string at = std::string(obj) + "." + k;
        if (!v.is_object() || (k != "full_attention" && k != "sliding_attention"))
          return Status::Error(Code::BadType, file + ": \"" + r.name(at) +
                                                  "\": expected full_attention and sliding_attention objects");
        for (const auto& [kk, vv] : v.items()) {
          const std::string field = kk == "type" ? "rope_type" : kk;
          if (vv.is_null()) continue;
          if (k == "full_attention") {
            state(field, at + "." + kk, vv, rank);
          } else if (field == "rope_theta") {
            state("rope_local_theta", at + "." + kk, vv, rank);
          } else if (!(field == "rope_type" && vv.is_string() && vv.get<std::string>() == "default")) {
            return Status::Error(Code::BadType, file + ": \"" + r.name(at + "." + kk) + "\" = " + vv.dump() +
                                                    ": f8 runs the sliding-window layers with the default (unscaled) RoPE");
          }
        }
      }
      continue;
    }
    for (const auto& [k, v] : o.items()) state(k == "type" ? "rope_type" : k, std::string(obj) + "." + k, v, rank);
  }

  // One value per field: transformers 5 takes the highest rank, transformers
  // 4 the highest rank it reads (it never reads rope_parameters).
  std::map<std::string, Stated> val;
  for (auto& [field, srcs] : fields) {
    const Stated* v5 = &srcs[0];
    const Stated* v4 = nullptr;
    for (const Stated& s : srcs) {
      if (s.rank > v5->rank) v5 = &s;
      // transformers 4 reads rope_scaling's fields but its own top-level rope_theta.
      const bool read_by_4 = s.rank == 0 || (s.rank == 2 && field != "rope_theta");
      if (read_by_4 && (!v4 || s.rank > v4->rank)) v4 = &s;
    }
    for (const Stated& s : srcs) {
      if (same_value(s.value, v5->value)) continue;
      if (v4 && !same_value(v4->value, v5->value))
        return Status::Error(Code::BadType,
                             file + ": contradictory RoPE settings: " + v4->where + " = " + v4->value.dump() + " but " +
                                 v5->where + " = " + v5->value.dump() + "; transformers 5 uses " + v5->where +
                                 ", transformers 4 used " + v4->where + " (to convert with transformers 5's value, pass "
                                 "--ignore-config-key " + v4->where + ")");
      notes->push_back(s.where + " = " + s.value.dump() + " is not read: transformers uses " + v5->where + " = " +
                       v5->value.dump());
    }
    val[field] = *v5;
  }

  auto real = [&](const std::string& field, bool required, float* out, bool positive = true) -> Status {
    auto it = val.find(field);
    if (it == val.end()) {
      if (required)
        return Status::Error(Code::NotFound, file + ": RoPE type \"" + hp->rope_type + "\" needs " + field +
                                                 " (in rope_parameters or rope_scaling)");
      return Status::Ok();
    }
    const json& v = it->second.value;
    if (!v.is_number() || !std::isfinite(v.get<double>()) || (positive && v.get<double>() <= 0))
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" must be a finite number" +
                                              (positive ? " > 0" : "") + ", got " + v.dump());
    *out = static_cast<float>(v.get<double>());
    return Status::Ok();
  };
  hp->rope_theta = default_theta;
  F8_CFG_TRY(real("rope_theta", false, &hp->rope_theta));
  if (gemma3) {
    hp->rope_local_theta = 10000.0f;  // Gemma3TextConfig's default local base
    F8_CFG_TRY(real("rope_local_theta", false, &hp->rope_local_theta));
  }
  std::string type = "default";
  if (auto it = val.find("rope_type"); it != val.end()) {
    if (!it->second.value.is_string())
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" must be a string, got " +
                                              it->second.value.dump());
    type = it->second.value.get<std::string>();
  }
  const std::string where = val.count("rope_type") ? val["rope_type"].where : "rope type";
  // The fields transformers reads for each type; others are ignored by it too.
  std::set<std::string> read{"rope_type", "rope_theta", "rope_local_theta", "partial_rotary_factor"};
  if (type == "default") {
    hp->rope_type = "none";
  } else if (type == "linear") {
    hp->rope_type = "linear";
    read.insert("factor");
    F8_CFG_TRY(real("factor", true, &hp->rope_factor));
  } else if (type == "llama3") {
    hp->rope_type = "llama3";
    for (const char* k : {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"})
      read.insert(k);
    F8_CFG_TRY(real("factor", true, &hp->rope_factor));
    F8_CFG_TRY(real("low_freq_factor", true, &hp->rope_low_freq));
    F8_CFG_TRY(real("high_freq_factor", true, &hp->rope_high_freq));
    float orig = 0;
    F8_CFG_TRY(real("original_max_position_embeddings", true, &orig));
    const json& ov = val["original_max_position_embeddings"].value;
    if (!ov.is_number_integer() && !(ov.is_number_float() && orig == std::floor(orig)))
      return Status::Error(Code::BadType, file + ": \"" + val["original_max_position_embeddings"].where +
                                              "\" must be an integer, got " + ov.dump());
    hp->rope_orig_ctx = static_cast<uint64_t>(orig);
    if (hp->rope_high_freq <= hp->rope_low_freq)
      return Status::Error(Code::BadType, file + ": RoPE llama3 high_freq_factor (" + std::to_string(hp->rope_high_freq) +
                                              ") must exceed low_freq_factor (" + std::to_string(hp->rope_low_freq) + ")");
  } else if (type == "longrope" || type == "su") {
    return Status::Error(Code::BadType, file + ": \"" + where + "\" = \"" + type +
                                            "\": LongRoPE (Phi-3 128k / Phi-3.5 scaling) is not implemented in f8 "
                                            "(supported RoPE types: default, linear, llama3)");
  } else {
    return Status::Error(Code::BadType, file + ": \"" + where + "\" = \"" + type +
                                            "\" is not supported (supported RoPE types: default, linear, llama3)");
  }
  std::set<std::string> unread;
  for (const auto& [field, src] : val)
    if (!read.count(field)) unread.insert(src.where);
  if (!unread.empty())
    notes->push_back("not read for RoPE type \"" + type + "\" (transformers ignores them too): " + join(unread));
  if (auto it = val.find("partial_rotary_factor"); it != val.end()) {
    float prf = 0;
    F8_CFG_TRY(real("partial_rotary_factor", false, &prf));
    if (prf != 1.0f)
      return Status::Error(Code::BadType, file + ": \"" + it->second.where + "\" = " + it->second.value.dump() +
                                              ": partial rotary embeddings are not supported (only 1.0)");
  }
  return Status::Ok();
}

}  // namespace f8conv::cfg
