#include "services/engine/subject_keyer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/common/temp_dir.h"

namespace pathway::engine {
namespace {
using pathway::testing::TempDir;

TEST(SubjectKeyer, CreatesAPrivateKeyOnceAndReusesIt) {
  TempDir dir;
  bool created = false;
  auto first = SubjectKeyer::Load("", dir.path(), &created);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_TRUE(created);
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/subject-key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the secret must be readable by its owner only";

  auto second = SubjectKeyer::Load("", dir.path(), &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(first->Key("9434765919"), second->Key("9434765919"));
}

TEST(SubjectKeyer, KeyIsAKeyedHashNotTheNumber) {
  auto a = SubjectKeyer::FromSecret(std::string(32, 'a'));
  auto b = SubjectKeyer::FromSecret(std::string(32, 'b'));
  std::string key = a.Key("9434765919");
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(key.find("9434765919"), std::string::npos);
  EXPECT_NE(key, b.Key("9434765919")) << "a different deployment secret gives other keys";
  EXPECT_NE(key, a.Key("6541003238"));
}

TEST(SubjectKeyer, ExplicitKeyFileMustExistAndBeWellFormed) {
  TempDir dir;
  bool created = false;
  auto missing = SubjectKeyer::Load(dir.path() + "/nope", dir.path(), &created);
  EXPECT_FALSE(missing.ok());
  std::ofstream(dir.path() + "/short") << "abcd\n";
  auto bad = SubjectKeyer::Load(dir.path() + "/short", dir.path(), &created);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().detail.find("64 hex digits"), std::string::npos);
  std::ofstream(dir.path() + "/good") << std::string(64, 'c') << "\n";
  auto good = SubjectKeyer::Load(dir.path() + "/good", dir.path(), &created);
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(created);
}

}  // namespace
}  // namespace pathway::engine
