// grammar_matcher.cpp — the lazy DFA over grammar stack sets (grammar_matcher.h).
#include "sampling/grammar_matcher.h"

#include <algorithm>
#include <map>

namespace f8::sampling {

size_t GrammarMatcher::VecHash::operator()(const std::vector<int32_t>& v) const {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ v.size();
  for (int32_t x : v) {
    h ^= uint64_t(uint32_t(x)) + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h *= 0xBF58476D1CE4E5B9ull;
  }
  return size_t(h ^ (h >> 31));
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  build_classes();
  init_arena();
}

// Partition of the 256 bytes into classes no set of the grammar tells apart
// (refined one set at a time).
void GrammarMatcher::build_classes() {
  std::fill(std::begin(cls_), std::end(cls_), 0);
  int32_t n = 1;
  for (const ByteSet& s : g_->sets) {
    std::map<std::pair<int32_t, bool>, int32_t> split;
    int32_t next = 0;
    uint8_t fresh[256];
    for (int b = 0; b < 256; ++b) {
      auto key = std::make_pair(int32_t(cls_[b]), s.has(uint8_t(b)));
      auto it = split.find(key);
      if (it == split.end()) it = split.emplace(key, next++).first;
      fresh[b] = uint8_t(it->second);
    }
    std::copy(std::begin(fresh), std::end(fresh), std::begin(cls_));
    n = next;
  }
  n_classes_ = n;
  class_rep_.assign(size_t(n), -1);
  for (int b = 255; b >= 0; --b) class_rep_[cls_[b]] = b;
}

void GrammarMatcher::init_arena() {
  nodes_.clear();
  node_ids_.clear();
  stamp_.clear();
  sets_.clear();
  state_ids_.clear();
  trans_.clear();
  accepting_.clear();
  live_.clear();
  nodes_.push_back({-1, -1});  // node 0: the empty stack
  stamp_.push_back(0);
  intern_state({});            // state 0: dead
  // The start state: the closure of the root's alternatives.
  ++cur_stamp_;
  out_.clear();
  for (int32_t a : g_->alts[size_t(g_->root)]) close(intern_node(a, 0));
  start_ = intern_state(out_);
  cur_ = start_;
}

void GrammarMatcher::reset() { cur_ = start_; }

int32_t GrammarMatcher::intern_node(int32_t pos, int32_t parent) {
  uint64_t key = (uint64_t(uint32_t(pos)) << 32) | uint32_t(parent);
  auto it = node_ids_.find(key);
  if (it != node_ids_.end()) return it->second;
  int32_t id = int32_t(nodes_.size());
  nodes_.push_back({pos, parent});
  stamp_.push_back(0);
  node_ids_.emplace(key, id);
  return id;
}

int32_t GrammarMatcher::intern_state(std::vector<int32_t> set) {
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  auto it = state_ids_.find(set);
  if (it != state_ids_.end()) return it->second;
  int32_t id = int32_t(sets_.size());
  bool acc = !set.empty() && set[0] == 0;
  bool live = set.size() > (acc ? 1u : 0u);
  sets_.push_back(set);
  state_ids_.emplace(std::move(set), id);
  trans_.resize(trans_.size() + size_t(n_classes_), -1);
  accepting_.push_back(acc);
  live_.push_back(live);
  if (id == kDead) std::fill(trans_.begin(), trans_.begin() + n_classes_, kDead);
  return id;
}

// Closure of one node into out_: nodes whose top is a Bytes element, and
// node 0 when the stack can be empty. Iterative (a hostile grammar could
// chain many nullable rules).
void GrammarMatcher::close(int32_t start) {
  work_.clear();
  work_.push_back(start);
  const auto& elems = g_->elems;
  while (!work_.empty()) {
    int32_t n = work_.back();
    work_.pop_back();
    if (stamp_[size_t(n)] == cur_stamp_) continue;
    stamp_[size_t(n)] = cur_stamp_;
    if (n == 0) {
      out_.push_back(0);
      continue;
    }
    Node nd = nodes_[size_t(n)];
    const Grammar::Elem& e = elems[size_t(nd.pos)];
    if (e.kind == Grammar::Bytes) {
      out_.push_back(n);
    } else if (e.kind == Grammar::Ref) {
      // Tail reference: the callee returns straight to our continuation.
      int32_t cont = elems[size_t(nd.pos) + 1].kind == Grammar::End ? nd.parent : intern_node(nd.pos + 1, nd.parent);
      for (int32_t a : g_->alts[size_t(e.arg)]) work_.push_back(intern_node(a, cont));
    } else {  // End: return to the continuation
      work_.push_back(nd.parent);
    }
  }
}

int32_t GrammarMatcher::compute(int32_t state, uint8_t byte) {
  // One visit stamp for the whole step: a node reached again from another
  // stack has its closure in out_ already.
  ++cur_stamp_;
  out_.clear();
  const auto& elems = g_->elems;
  const std::vector<int32_t>& set = sets_[size_t(state)];  // stable: sets_ grows only below
  for (int32_t n : set) {
    if (n == 0) continue;
    Node nd = nodes_[size_t(n)];
    if (g_->sets[size_t(elems[size_t(nd.pos)].arg)].has(byte)) close(intern_node(nd.pos + 1, nd.parent));
  }
  int32_t t = out_.empty() ? kDead : intern_state(out_);
  trans_[size_t(state) * size_t(n_classes_) + cls_[byte]] = t;
  return t;
}

bool GrammarMatcher::advance(const std::string& bytes) {
  int32_t s = cur_;
  for (char c : bytes) {
    s = step(s, uint8_t(c));
    if (s == kDead) return false;
  }
  cur_ = s;
  return true;
}

bool GrammarMatcher::maybe_compact() {
  if (sets_.size() < kMaxStates && nodes_.size() < kMaxNodes) return false;
  // Copy the current state's stacks into a fresh arena (chains bottom-up).
  std::vector<Node> old = std::move(nodes_);
  std::vector<int32_t> cur_set = sets_[size_t(cur_)];
  std::vector<int32_t> remap(old.size(), -1);
  init_arena();  // also re-creates the start state
  remap[0] = 0;
  std::vector<int32_t> chain;
  std::vector<int32_t> fresh;
  for (int32_t n : cur_set) {
    chain.clear();
    for (int32_t x = n; remap[size_t(x)] < 0; x = old[size_t(x)].parent) chain.push_back(x);
    for (size_t i = chain.size(); i-- > 0;) {
      int32_t x = chain[i];
      remap[size_t(x)] = intern_node(old[size_t(x)].pos, remap[size_t(old[size_t(x)].parent)]);
    }
    fresh.push_back(remap[size_t(n)]);
  }
  cur_ = intern_state(fresh);
  ++epoch_;
  return true;
}

}  // namespace f8::sampling
