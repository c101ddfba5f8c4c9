// The pure parts of hub/: each rule here is one huggingface_hub follows
// (validate_repo_id, _normalize_etag, hf_hub_url, repo_folder_name, the
// cache's relative symlinks, constants.py's environment), checked on the
// cases that matter.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "hub/digest.h"
#include "hub/file_select.h"
#include "hub/hub_api.h"
#include "hub/hub_cache.h"
#include "hub/hub_env.h"
#include "hub/http_util.h"
#include "hub/model_store.h"
#include "hub/repo_ref.h"

using namespace f8hub;

TEST(RepoRef, ParsesRepoAndRevision) {
  RepoRef r;
  std::string err;
  ASSERT_TRUE(parse_repo_ref("HuggingFaceTB/SmolLM2-135M-Instruct", &r, &err)) << err;
  EXPECT_EQ(r.repo, "HuggingFaceTB/SmolLM2-135M-Instruct");
  EXPECT_EQ(r.revision, "main");
  EXPECT_FALSE(r.revision_given);
  ASSERT_TRUE(parse_repo_ref("org/name@refs/pr/1", &r, &err)) << err;
  EXPECT_EQ(r.revision, "refs/pr/1");
  EXPECT_TRUE(r.revision_given);
  ASSERT_TRUE(parse_repo_ref("gpt2", &r, &err)) << err;  // legacy top-level repo
  EXPECT_EQ(r.repo, "gpt2");
}

TEST(RepoRef, RejectsWhatHuggingFaceHubRejects) {
  RepoRef r;
  std::string err;
  for (const char* bad : {"", "a/b/c", "org/na--me", "org/na..me", "-org/name", "org/name.", "org/na me",
                          "org/", "/name", "org/name@", "org/name@../x", "org/name@a//b", "org/name@a\\b"}) {
    EXPECT_FALSE(parse_repo_ref(bad, &r, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  EXPECT_FALSE(parse_repo_ref(std::string(97, 'a') + "/x", &r, &err));
}

TEST(RepoRef, LooksLikeRepoOnlyForOrgSlashName) {
  EXPECT_TRUE(looks_like_repo("org/name"));
  EXPECT_TRUE(looks_like_repo("org/name@v1.0"));
  EXPECT_FALSE(looks_like_repo("model.f8"));
  EXPECT_FALSE(looks_like_repo("dir/model.f8"));      // a path to a .f8, not a repo
  EXPECT_FALSE(looks_like_repo("/abs/path"));
  EXPECT_FALSE(looks_like_repo("./org/name"));
  EXPECT_FALSE(looks_like_repo("gpt2"));              // bare names stay files for -m
  EXPECT_FALSE(looks_like_repo("a/b/c"));
}

TEST(RepoRef, CommitAndFolderNames) {
  EXPECT_TRUE(is_commit_hash(std::string(40, 'a')));
  EXPECT_FALSE(is_commit_hash(std::string(40, 'A')));
  EXPECT_FALSE(is_commit_hash(std::string(39, 'a')));
  EXPECT_EQ(repo_folder_name("julien-c/EsperBERTo-small"), "models--julien-c--EsperBERTo-small");
  EXPECT_EQ(repo_folder_name("gpt2"), "models--gpt2");
  EXPECT_EQ(revision_file_component("refs/pr/1"), "refs_pr_1");
}

TEST(ModelStore, FileNames) {
  RepoRef r;
  std::string err;
  ASSERT_TRUE(parse_repo_ref("org/name", &r, &err));
  EXPECT_EQ(model_file_name(r, ""), "org--name.f8");
  EXPECT_EQ(model_file_name(r, "e5m2-block"), "org--name--e5m2-block.f8");
  ASSERT_TRUE(parse_repo_ref("org/name@main", &r, &err));
  EXPECT_EQ(model_file_name(r, ""), "org--name.f8");  // main is the default
  ASSERT_TRUE(parse_repo_ref("org/name@refs/pr/3", &r, &err));
  EXPECT_EQ(model_file_name(r, "bf16"), "org--name--refs_pr_3--bf16.f8");
}

TEST(HubEnv, DefaultsAndOverridesAsHuggingFaceHub) {
  std::map<std::string, std::string> vars = {{"HOME", "/home/u"}};
  auto get = [&](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  HubEnv e = hub_env_from(get);
  EXPECT_EQ(e.endpoint, "https://huggingface.co");
  EXPECT_EQ(e.cache_dir, "/home/u/.cache/huggingface/hub");
  EXPECT_EQ(e.f8_home, "/home/u/.cache/f8");
  EXPECT_FALSE(e.offline);
  vars["XDG_CACHE_HOME"] = "/x";
  EXPECT_EQ(hub_env_from(get).cache_dir, "/x/huggingface/hub");
  vars["HF_HOME"] = "~/hf";
  EXPECT_EQ(hub_env_from(get).cache_dir, "/home/u/hf/hub");
  vars["HUGGINGFACE_HUB_CACHE"] = "/legacy";
  EXPECT_EQ(hub_env_from(get).cache_dir, "/legacy");
  vars["HF_HUB_CACHE"] = "/new";
  EXPECT_EQ(hub_env_from(get).cache_dir, "/new");
  vars["HF_ENDPOINT"] = "http://mirror:8080//";
  EXPECT_EQ(hub_env_from(get).endpoint, "http://mirror:8080");
  for (const char* t : {"1", "ON", "yes", "True"}) {
    vars["HF_HUB_OFFLINE"] = t;
    EXPECT_TRUE(hub_env_from(get).offline) << t;
  }
  vars["HF_HUB_OFFLINE"] = "0";
  EXPECT_FALSE(hub_env_from(get).offline);
  vars.erase("HF_HUB_OFFLINE");
  vars["TRANSFORMERS_OFFLINE"] = "1";
  EXPECT_TRUE(hub_env_from(get).offline);
  vars["F8_HOME"] = "/f8";
  EXPECT_EQ(hub_env_from(get).f8_home, "/f8");
}

TEST(HubEnv, TokenFromVariableThenFile) {
  const std::string dir = testing::TempDir() + "hub_env_token";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/token") << "  hf_from_file\n";
  std::map<std::string, std::string> vars = {{"HOME", "/home/u"}, {"HF_HOME", dir}};
  auto get = [&](const char* k) -> const char* {
    auto it = vars.find(k);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  HubEnv e = hub_env_from(get);
  EXPECT_EQ(e.token, "hf_from_file");
  EXPECT_EQ(e.token_source, dir + "/token");
  vars["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy";
  EXPECT_EQ(hub_env_from(get).token, "hf_legacy");
  vars["HF_TOKEN"] = " hf_env ";
  e = hub_env_from(get);
  EXPECT_EQ(e.token, "hf_env");
  EXPECT_EQ(e.token_source, "HF_TOKEN");
  vars["HF_TOKEN"] = "";  // empty counts as unset
  EXPECT_EQ(hub_env_from(get).token, "hf_legacy");
}

TEST(HttpUtil, UrlsAsHfHubUrlBuildsThem) {
  EXPECT_EQ(resolve_url("https://huggingface.co", "org/m", "refs/pr/1", "sub dir/a+b.json"),
            "https://huggingface.co/org/m/resolve/refs%2Fpr%2F1/sub%20dir/a%2Bb.json");
  EXPECT_EQ(revision_api_url("https://hf.co", "org/m", "v1.0"), "https://hf.co/api/models/org/m/revision/v1.0?blobs=true");
  EXPECT_EQ(url_quote("a~b_c.d-e/f", ""), "a~b_c.d-e%2Ff");
}

TEST(HttpUtil, UrlJoinAndOrigins) {
  const std::string base = "https://huggingface.co/org/m/resolve/main/config.json";
  EXPECT_EQ(url_join(base, "https://cdn-lfs.hf.co/x?sig=1"), "https://cdn-lfs.hf.co/x?sig=1");
  EXPECT_EQ(url_join(base, "/new/m/resolve/main/config.json"), "https://huggingface.co/new/m/resolve/main/config.json");
  EXPECT_EQ(url_join(base, "//other.host/p"), "https://other.host/p");
  EXPECT_EQ(url_join(base, "other.json"), "https://huggingface.co/org/m/resolve/main/other.json");
  EXPECT_TRUE(same_origin("https://HuggingFace.co/a", "https://huggingface.co:443/b"));
  EXPECT_FALSE(same_origin("http://127.0.0.1:8000/a", "http://localhost:8000/a"));
  EXPECT_FALSE(same_origin("http://h:1/a", "http://h:2/a"));
  EXPECT_FALSE(same_origin("http://h/a", "https://h/a"));
  EXPECT_EQ(url_origin("http://user:pw@[::1]:81/x"), "http://[::1]:81");
  EXPECT_EQ(url_without_query("https://cdn/x?X-Amz-Signature=secret"), "https://cdn/x");
}

TEST(HttpUtil, HeaderBlockKeepsTheLastResponse) {
  HeaderBlock h;
  h.feed_line("HTTP/1.1 302 Found\r\n");
  h.feed_line("Location: https://cdn/x\r\n");
  h.feed_line("X-Linked-Etag: \"abc\"\r\n");
  h.feed_line("\r\n");
  EXPECT_EQ(h.status(), 302);
  ASSERT_NE(h.get("x-linked-etag"), nullptr);
  EXPECT_EQ(*h.get("X-LINKED-ETAG"), "\"abc\"");
  h.feed_line("HTTP/2 200\r\n");  // the next hop starts a new block
  h.feed_line("content-length: 12\r\n");
  EXPECT_EQ(h.status(), 200);
  EXPECT_EQ(h.get("location"), nullptr);
  EXPECT_EQ(*h.get("Content-Length"), "12");
}

TEST(HttpUtil, EtagsRangesRetries) {
  EXPECT_EQ(normalize_etag("\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("W/\"abc\""), "abc");
  EXPECT_EQ(normalize_etag("abc"), "abc");
  uint64_t a, b, n;
  ASSERT_TRUE(parse_content_range("bytes 100-199/200", &a, &b, &n));
  EXPECT_EQ(a, 100u);
  EXPECT_EQ(b, 199u);
  EXPECT_EQ(n, 200u);
  ASSERT_TRUE(parse_content_range("bytes 0-9/*", &a, &b, &n));
  EXPECT_EQ(n, UINT64_MAX);
  for (const char* bad : {"bytes 5-4/10", "bytes 0-10/10", "items 0-1/2", "bytes -1/2", "bytes 0-1"})
    EXPECT_FALSE(parse_content_range(bad, &a, &b, &n)) << bad;
  EXPECT_FALSE(parse_u64("18446744073709551616", &a));  // 2^64
  EXPECT_TRUE(parse_u64("18446744073709551615", &a));
  const std::string s = "3";
  EXPECT_EQ(parse_retry_after(&s), 3);
  const std::string date = "Wed, 21 Oct 2015 07:28:00 GMT";
  EXPECT_EQ(parse_retry_after(&date), -1);
  EXPECT_EQ(parse_retry_after(nullptr), -1);
  EXPECT_EQ(backoff_seconds(1), 0.5);
  EXPECT_EQ(backoff_seconds(2), 1.0);
  EXPECT_EQ(backoff_seconds(10), 8.0);
  EXPECT_TRUE(transient_status(503));
  EXPECT_TRUE(transient_status(429));
  EXPECT_FALSE(transient_status(404));
}

TEST(HubCache, LayoutAndRelativePointers) {
  RepoCache c("/c", "org/m");
  EXPECT_EQ(c.storage(), "/c/models--org--m");
  EXPECT_EQ(c.blob_path("e"), "/c/models--org--m/blobs/e");
  EXPECT_EQ(c.incomplete_path("e"), "/c/models--org--m/blobs/e.incomplete");
  EXPECT_EQ(c.pointer_path("abc", "sub/f.json"), "/c/models--org--m/snapshots/abc/sub/f.json");
  EXPECT_EQ(c.ref_path("refs/pr/1"), "/c/models--org--m/refs/refs/pr/1");
  EXPECT_EQ(c.lock_path("e"), "/c/.locks/models--org--m/e.lock");
  EXPECT_EQ(pointer_target("config.json", "e"), "../../blobs/e");
  EXPECT_EQ(pointer_target("a/b/c.json", "e"), "../../../../blobs/e");
  EXPECT_TRUE(safe_repo_path("a/b.json"));
  for (const char* bad : {"", "/abs", "a/../b", "./a", "a//b", "a\\b"}) EXPECT_FALSE(safe_repo_path(bad)) << bad;
}

TEST(HubCache, RefsAndPointersOnDisk) {
  const std::string root = testing::TempDir() + "hub_cache_disk";
  std::filesystem::remove_all(root);
  RepoCache c(root, "org/m");
  const std::string commit(40, 'b');
  ASSERT_TRUE(c.write_ref("main", commit).ok());
  std::ifstream in(c.ref_path("main"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, commit);  // nothing else in the file
  std::string got;
  ASSERT_TRUE(c.read_ref("main", &got));
  EXPECT_EQ(got, commit);
  EXPECT_TRUE(c.write_ref(commit, commit).ok());
  EXPECT_FALSE(std::filesystem::exists(c.ref_path(commit)));  // a commit gets no ref
  ASSERT_TRUE(make_dirs(c.storage() + "/blobs").ok());
  std::ofstream(c.blob_path("e1")) << "{}";
  ASSERT_TRUE(c.link_pointer("e1", commit, "sub/x.json").ok());
  EXPECT_TRUE(c.pointer_ok(commit, "sub/x.json"));
  EXPECT_EQ(std::filesystem::read_symlink(c.pointer_path(commit, "sub/x.json")).string(), "../../../blobs/e1");
  EXPECT_FALSE(c.pointer_ok(commit, "missing.json"));
  std::filesystem::remove(c.blob_path("e1"));
  EXPECT_FALSE(c.pointer_ok(commit, "sub/x.json"));  // dangling
}

TEST(FileSelect, OnlyWhatConvertReads) {
  Selection s;
  const std::vector<std::string> repo = {".gitattributes", "README.md", "config.json", "generation_config.json",
                                         "model.safetensors", "pytorch_model.bin", "onnx/model.onnx",
                                         "original/consolidated.pth", "tokenizer.json", "tokenizer_config.json",
                                         "special_tokens_map.json", "vocab.json", "merges.txt", "logo.png"};
  ASSERT_TRUE(select_files(repo, "org/m@main", &s).ok());
  EXPECT_EQ(s.support, (std::vector<std::string>{"config.json", "generation_config.json", "tokenizer.json",
                                                 "tokenizer_config.json", "special_tokens_map.json"}));
  EXPECT_EQ(s.single, "model.safetensors");
  EXPECT_TRUE(s.index.empty());
  ASSERT_TRUE(select_files({"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                            "consolidated.safetensors", "model.safetensors"},
                           "x", &s).ok());
  EXPECT_EQ(s.index, "model.safetensors.index.json");  // the index wins, as in the converter
  EXPECT_TRUE(s.single.empty());
  Status st = select_files({"config.json", "pytorch_model.bin", "model.gguf"}, "org/m@main", &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("pytorch_model.bin"), std::string::npos) << st.message;
  EXPECT_FALSE(select_files({"model.safetensors"}, "org/m@main", &s).ok());  // no config.json
}

TEST(FileSelect, ShardsFromIndex) {
  std::vector<std::string> sh;
  ASSERT_TRUE(shards_from_index(R"({"metadata":{},"weight_map":{"b":"m-2.safetensors","a":"m-1.safetensors",
                                  "c":"m-2.safetensors"}})", "idx", &sh).ok());
  EXPECT_EQ(sh, (std::vector<std::string>{"m-1.safetensors", "m-2.safetensors"}));
  EXPECT_FALSE(shards_from_index(R"({"weight_map":{"a":"../evil.safetensors"}})", "idx", &sh).ok());
  EXPECT_FALSE(shards_from_index(R"({"weight_map":{"a":"m.bin"}})", "idx", &sh).ok());
  EXPECT_FALSE(shards_from_index(R"({"weight_map":{}})", "idx", &sh).ok());
  EXPECT_FALSE(shards_from_index("not json", "idx", &sh).ok());
}

TEST(HubApi, ParsesTheRevisionReply) {
  RepoInfo info;
  std::string err;
  const std::string sha(40, 'c');
  ASSERT_TRUE(parse_repo_info(R"({"sha":")" + sha + R"(","siblings":[{"rfilename":"config.json","blobId":"b1","size":5},
     {"rfilename":"model.safetensors","blobId":"b2","size":135,"lfs":{"sha256":"s","size":1000,"pointerSize":135}}]})",
                              &info, &err)) << err;
  EXPECT_EQ(info.commit, sha);
  ASSERT_EQ(info.files.size(), 2u);
  EXPECT_EQ(info.find("config.json")->size, 5);
  EXPECT_EQ(info.find("model.safetensors")->size, 1000);  // the LFS size, not the pointer's
  EXPECT_EQ(info.find("model.safetensors")->lfs_sha256, "s");
  EXPECT_FALSE(parse_repo_info(R"({"siblings":[]})", &info, &err));
  EXPECT_FALSE(parse_repo_info(R"({"sha":"main","siblings":[]})", &info, &err));
  EXPECT_FALSE(parse_repo_info("<html>", &info, &err));
}

TEST(Digest, KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // `git hash-object` of an empty file and of "hello\n".
  EXPECT_EQ(git_blob_sha1_hex(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  EXPECT_EQ(git_blob_sha1_hex("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
  Digest d(Digest::Algo::Sha256);
  d.update("a", 1);
  d.update("bc", 2);
  EXPECT_EQ(d.hex(), sha256_hex("abc"));  // incremental = whole
}
