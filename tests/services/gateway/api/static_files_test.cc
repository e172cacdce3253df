// The web app's files: what is served, with which headers, and every way out of the
// root that must not be.
#include "services/gateway/api/static_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/common/temp_dir.h"
#include "tests/services/gateway/api/api_fakes.h"

namespace pathway::gateway {
namespace {

namespace fs = std::filesystem;
using testing::HeaderOf;

void Write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(dir_.path()) / "dist";
    Write(root_ / "index.html", "<!DOCTYPE html><title>pathway</title>");
    Write(root_ / "start.html", "<!DOCTYPE html><title>start</title>");
    Write(root_ / "js" / "app.mjs", "export const x = 1;\n");
    Write(root_ / "assets" / "govuk-frontend.min.css", "body{}");
    Write(root_ / "assets" / "fonts" / "bold.woff2", std::string("wOF2\0\1", 6));
    Write(root_ / "assets" / "images" / "favicon.svg", "<svg/>");
    Write(root_ / "notes.unknownext", "x");
    Write(root_ / ".hidden.html", "secret");
    Write(fs::path(dir_.path()) / "outside.html", "outside the root");
    fs::create_directories(root_ / "empty-dir");
    files_ = std::make_unique<StaticFiles>(root_.string());
  }

  HttpResponse Get(std::string path, std::string method = "GET") {
    HttpRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    return files_->Serve(r);
  }

  void ExpectNotFound(const std::string& path) {
    HttpResponse r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/problem+json") << path;
    EXPECT_NE(r.body.find("route.unknown"), std::string::npos) << path;
  }

  ::pathway::testing::TempDir dir_;
  fs::path root_;
  std::unique_ptr<StaticFiles> files_;
};

TEST_F(StaticFilesTest, TheRootIsIndexHtmlAndHtmlIsNeverStored) {
  HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!DOCTYPE html><title>pathway</title>");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  r = Get("/start.html", "HEAD");  // the server drops a HEAD answer's body, keeps its length
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
}

TEST_F(StaticFilesTest, MediaTypesByExtensionAndAssetsCachedForAYear) {
  HttpResponse r = Get("/js/app.mjs");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-cache");
  r = Get("/assets/govuk-frontend.min.css");
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=31536000, immutable");
  r = Get("/assets/fonts/bold.woff2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), 6u);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "font/woff2");
  EXPECT_EQ(HeaderOf(Get("/assets/images/favicon.svg"), "Content-Type"), "image/svg+xml");
  EXPECT_EQ(StaticFiles::ContentType("a/b.png"), "image/png");
  EXPECT_EQ(StaticFiles::ContentType("favicon.ico"), "image/x-icon");
  EXPECT_EQ(StaticFiles::ContentType("x.json"), "application/json");
  EXPECT_EQ(StaticFiles::ContentType("x.exe"), "");
  EXPECT_EQ(StaticFiles::ContentType("Makefile"), "");
}

TEST_F(StaticFilesTest, UnknownPathsAndTypesAre404) {
  ExpectNotFound("/missing.html");
  ExpectNotFound("/notes.unknownext");  // no media type: not served
  ExpectNotFound("/assets/");           // no directory listings
  ExpectNotFound("/empty-dir");
  ExpectNotFound("/empty-dir/");
  ExpectNotFound("/js");
}

TEST_F(StaticFilesTest, NothingOutsideTheRootOrHidden) {
  for (const char* path :
       {"/../outside.html", "/js/../../outside.html", "/./index.html", "/js/./app.mjs",
        "/.hidden.html", "//index.html", "/%2e%2e/outside.html", "/index.html%00", "/js\\app.mjs",
        "/index.html?x", "index.html", "/assets/../../outside.html"}) {
    ExpectNotFound(path);
  }
  // A symbolic link out of the root is not followed; one that stays inside is.
  fs::create_symlink(fs::path(dir_.path()) / "outside.html", root_ / "link-out.html");
  ExpectNotFound("/link-out.html");
  fs::create_directory_symlink(fs::path(dir_.path()), root_ / "up");
  ExpectNotFound("/up/outside.html");
  fs::create_symlink(root_ / "start.html", root_ / "link-in.html");
  EXPECT_EQ(Get("/link-in.html").status, 200);
}

TEST_F(StaticFilesTest, OnlyGetAndHead) {
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    HttpResponse r = Get("/index.html", method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
  }
}

TEST_F(StaticFilesTest, AMissingRootServesNothing) {
  StaticFiles none((fs::path(dir_.path()) / "no-such-dir").string());
  HttpRequest r;
  r.method = "GET";
  r.path = "/";
  EXPECT_EQ(none.Serve(r).status, 404);
}

TEST(StaticFilesPaths, SafeRelativePath) {
  EXPECT_TRUE(StaticFiles::SafeRelativePath("index.html"));
  EXPECT_TRUE(StaticFiles::SafeRelativePath("assets/fonts/bold-affa96571d-v2.woff"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath(""));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("a//b"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("a/"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("../a"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("a/.."));
  EXPECT_FALSE(StaticFiles::SafeRelativePath(".git/config"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("a b.html"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath("a%20b.html"));
  EXPECT_FALSE(StaticFiles::SafeRelativePath(std::string(1025, 'a')));
}

}  // namespace
}  // namespace pathway::gateway
