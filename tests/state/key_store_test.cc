// Per-subject data keys (docs/tell-it-once.md, section 6): created once, stored only
// wrapped, and destroyed so thoroughly that no file of the store still holds them.
#include "state/key_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>

#include "common/crypto.h"
#include "state/errc.h"
#include "tests/common/temp_dir.h"

namespace pathway::state {
namespace {

const std::string kSubjectA(64, 'a');
const std::string kSubjectB(64, 'b');
const std::string kKek(32, 'K');

// Whether any file under `dir` contains `needle` (the WAL, SST files, the manifest).
bool AnyFileContains(const std::string& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes(entry.file_size(), '\0');
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(KeyStore, ADataKeyIsCreatedOnceAndSurvivesAReopen) {
  testing::TempDir dir;
  std::string key;
  {
    auto store = KeyStore::Open(dir.path(), kKek);
    ASSERT_TRUE(store.ok()) << store.error().ToString();
    auto none = (*store)->FindDataKey(kSubjectA);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    auto first = (*store)->DataKey(kSubjectA);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->size(), kAeadKeyBytes);
    auto again = (*store)->DataKey(kSubjectA);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *first);
    auto other = (*store)->DataKey(kSubjectB);
    ASSERT_TRUE(other.ok());
    EXPECT_NE(*other, *first);
    key = *first;
  }
  auto store = KeyStore::Open(dir.path(), kKek);
  ASSERT_TRUE(store.ok());
  auto reopened = (*store)->DataKey(kSubjectA);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(*reopened, key);
  EXPECT_FALSE(AnyFileContains(dir.path(), key)) << "a data key is only ever stored wrapped";
}

TEST(KeyStore, TheOnDiskFormatIsPermanent) {
  testing::TempDir dir;
  {
    auto store = KeyStore::Open(dir.path(), kKek);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->DataKey(kSubjectA).ok());
    ASSERT_TRUE((*store)->Destroy(kSubjectB).ok());
  }
  // Prefixes 'k' (wrapped data key) and 'e' (erasure marker) must never change
  // meaning: read the raw store.
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::Options(), dir.path(), &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string wrapped;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), "k" + kSubjectA, &wrapped).ok());
  EXPECT_EQ(wrapped.size(), kAeadNonceBytes + kAeadKeyBytes + kAeadTagBytes);
  auto unwrapped = AeadOpen(kKek, wrapped, "pathway.keystore.v1|" + kSubjectA);
  EXPECT_TRUE(unwrapped.ok()) << "wrapped with the KEK, bound to the subject";
  std::string marker;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "e" + kSubjectB, &marker).ok());
}

TEST(KeyStore, AnotherKeyEncryptionKeyUnwrapsNothing) {
  testing::TempDir dir;
  {
    auto store = KeyStore::Open(dir.path(), kKek);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->DataKey(kSubjectA).ok());
  }
  auto store = KeyStore::Open(dir.path(), std::string(32, 'X'));
  ASSERT_TRUE(store.ok());
  auto key = (*store)->FindDataKey(kSubjectA);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.error().code, make_error_code(errc::kCorruption));
  EXPECT_FALSE(KeyStore::Open(dir.path() + "-short", "too short").ok());
}

TEST(KeyStore, DestroyRemovesTheWrappedKeyFromEveryFileAndLeavesOthers) {
  testing::TempDir dir;
  auto store = KeyStore::Open(dir.path(), kKek);
  ASSERT_TRUE(store.ok());
  auto a = (*store)->DataKey(kSubjectA);
  auto b = (*store)->DataKey(kSubjectB);
  ASSERT_TRUE(a.ok() && b.ok());
  auto sealed = AeadSeal(*a, "Amara Okafor", kSubjectA + "|given_name");
  ASSERT_TRUE(sealed.ok());
  // The record key is on disk (write-ahead log) before: the scan can see it.
  const std::string record = "k" + kSubjectA;
  ASSERT_TRUE(AnyFileContains(dir.path(), record));

  ASSERT_TRUE((*store)->Destroy(kSubjectA).ok());
  EXPECT_FALSE(AnyFileContains(dir.path(), record)) << "no WAL, SST or memtable copy is left";
  auto gone = (*store)->DataKey(kSubjectA);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, make_error_code(errc::kErased))
      << "an erased subject is not silently given a new key";
  auto erased = (*store)->Erased(kSubjectA);
  ASSERT_TRUE(erased.ok());
  EXPECT_TRUE(*erased);
  EXPECT_TRUE((*store)->Destroy(kSubjectA).ok()) << "idempotent";

  auto still = (*store)->DataKey(kSubjectB);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(*still, *b) << "other subjects untouched";
  // What was sealed under the destroyed key stays sealed: only that key opened it.
  auto other_key = RandomBytes(kAeadKeyBytes);
  ASSERT_TRUE(other_key.ok());
  EXPECT_FALSE(AeadOpen(*other_key, *sealed, kSubjectA + "|given_name").ok());
}

}  // namespace
}  // namespace pathway::state
