/* Unit tests for assets: embedded console lookup, content types, ETags, size budget. */
#include "assets/assets.h"
#include "assets_internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_index_found(void **state)
{
	const struct asset *a = assets_find("/index.html");

	assert_non_null(a);
	assert_string_equal(a->path, "/index.html");
	assert_string_equal(a->content_type, "text/html; charset=utf-8");
	assert_true(a->len > 0);
	assert_non_null(memmem(a->data, a->len, "<!doctype html>", 15));
}

static void test_root_maps_to_index(void **state)
{
	assert_ptr_equal(assets_find("/"), assets_find("/index.html"));
}

static void test_not_found(void **state)
{
	assert_null(assets_find(NULL));
	assert_null(assets_find(""));
	assert_null(assets_find("index.html"));
	assert_null(assets_find("/nope.html"));
	assert_null(assets_find("/../x"));
	assert_null(assets_find("/../index.html"));
	assert_null(assets_find("//index.html"));
	assert_null(assets_find("/./index.html"));
	assert_null(assets_find("/%2e%2e/index.html"));
	assert_null(assets_find("/index.html?x=1"));
	assert_null(assets_find("/INDEX.HTML"));
	assert_null(assets_find("/api/v1/status"));
}

static void test_long_path_not_found(void **state)
{
	char path[4096];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_null(assets_find(path));
}

static void test_content_types(void **state)
{
	const struct asset *js = assets_find("/app.js");
	const struct asset *css = assets_find("/style.css");
	const struct asset *svg = assets_find("/favicon.svg");

	assert_non_null(js);
	assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
	assert_non_null(css);
	assert_string_equal(css->content_type, "text/css; charset=utf-8");
	assert_non_null(svg);
	assert_string_equal(svg->content_type, "image/svg+xml");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_every_asset_well_formed(void **state)
{
	size_t total = 0;

	assert_true(assets__count >= 4);
	for (size_t i = 0; i < assets__count; i++) {
		const struct asset *a = &assets__table[i];

		assert_ptr_equal(assets_find(a->path), a);
		/* Strong ETag: quoted 64 hex digits of SHA-256. */
		assert_int_equal(strlen(a->etag), 66);
		assert_int_equal(a->etag[0], '"');
		assert_int_equal(a->etag[65], '"');
		assert_non_null(a->content_type);
		if (ends_with(a->path, ".js"))
			assert_string_equal(a->content_type, "text/javascript; charset=utf-8");
		else if (ends_with(a->path, ".css"))
			assert_string_equal(a->content_type, "text/css; charset=utf-8");
		else if (ends_with(a->path, ".html"))
			assert_string_equal(a->content_type, "text/html; charset=utf-8");
		else if (ends_with(a->path, ".svg"))
			assert_string_equal(a->content_type, "image/svg+xml");
		/* The CSP forbids inline script and style: no page may carry any. */
		if (ends_with(a->path, ".html")) {
			assert_null(memmem(a->data, a->len, "style=", 6));
			assert_null(memmem(a->data, a->len, "onclick", 7));
			assert_null(memmem(a->data, a->len, "<script>", 8));
			assert_null(memmem(a->data, a->len, "http://", 7));
			assert_null(memmem(a->data, a->len, "https://", 8));
		}
		total += a->len;
	}
	assert_int_equal(total, assets__total_bytes);
	assert_true(total < 150 * 1024);
}

static void test_distinct_content_distinct_etag(void **state)
{
	const struct asset *a = assets_find("/index.html");
	const struct asset *b = assets_find("/app.js");

	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(a->etag, b->etag);
}

/* Every local file a page or module names ("/style.css", "./api.js") must be embedded. */
static void check_refs(const struct asset *a, const char *prefix, const char *base)
{
	const char *p = (const char *)a->data;
	const char *end = p + a->len;
	size_t plen = strlen(prefix);

	while ((p = memmem(p, (size_t)(end - p), prefix, plen)) != NULL) {
		char path[256];
		const char *v = p + plen;
		size_t n = strcspn(v, "\"'?#");

		p = v;
		if (n == 0 || v[0] == '#' || n + strlen(base) + 1 > sizeof(path))
			continue;
		snprintf(path, sizeof(path), "%s%.*s", base, (int)n, v);
		if (strcmp(path, "/") == 0 || strncmp(path, "/api/", 5) == 0)
			continue;
		if (assets_find(path) == NULL)
			fail_msg("%s refers to %s, which is not embedded", a->path, path);
	}
}

static void test_references_resolve(void **state)
{
	for (size_t i = 0; i < assets__count; i++) {
		const struct asset *a = &assets__table[i];

		if (ends_with(a->path, ".html")) {
			check_refs(a, "src=\"/", "/");
			check_refs(a, "href=\"/", "/");
		} else if (ends_with(a->path, ".js")) {
			check_refs(a, "from './", "/");
			check_refs(a, "import './", "/");
		}
	}
}

static void test_paths_unique(void **state)
{
	for (size_t i = 0; i < assets__count; i++)
		for (size_t j = i + 1; j < assets__count; j++)
			assert_string_not_equal(assets__table[i].path, assets__table[j].path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_index_found),
	    cmocka_unit_test(test_root_maps_to_index),
	    cmocka_unit_test(test_not_found),
	    cmocka_unit_test(test_long_path_not_found),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_every_asset_well_formed),
	    cmocka_unit_test(test_distinct_content_distinct_etag),
	    cmocka_unit_test(test_references_resolve),
	    cmocka_unit_test(test_paths_unique),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
