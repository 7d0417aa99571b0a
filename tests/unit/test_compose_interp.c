/* SPDX-License-Identifier: MIT */
/*
 * compose_interpolate(): every form of the Compose specification's
 * interpolation chapter.  Expected values are written from the spec:
 * SET=value, EMPTY is set to "", everything else is unset.
 */
#include "tests/unit/compose_test.h"

#include "common/buf.h"
#include "compose/interp.h"

static const char *const vars[] = {
	"SET", "value", "EMPTY", "", "FALLBACK", "fallback", "DOLLAR", "$SET ${SET}", NULL,
};

static char unset_seen[256];

static void on_unset(const char *name, void *payload)
{
	(void)payload;
	strncat(unset_seen, name, sizeof(unset_seen) - strlen(unset_seen) - 2);
	strcat(unset_seen, ",");
}

/* Interpolate; returns the result (static) or NULL with the error in last_err. */
static struct error last_err;

static const char *interp(const char *in)
{
	static char result[1024];
	struct buf out = BUF_INIT;
	int ret;

	error_clear(&last_err);
	unset_seen[0] = '\0';
	ret = compose_interpolate_full(in, test_lookup, on_unset, (void *)vars, &out, &last_err);
	snprintf(result, sizeof(result), "%s", buf_str(&out));
	buf_release(&out);
	if (ret < 0) {
		assert_int_equal(last_err.cls, ERR_COMPOSE);
		return NULL;
	}
	return result;
}

static void test_compose_interp__text_without_variables_is_unchanged(void **state)
{
	assert_string_equal(interp("plain text: 100% {braces}"), "plain text: 100% {braces}");
	assert_string_equal(interp(""), "");
}

static void test_compose_interp__unbraced_and_braced_names(void **state)
{
	assert_string_equal(interp("$SET"), "value");
	assert_string_equal(interp("${SET}"), "value");
	assert_string_equal(interp("a-$SET-b"), "a-value-b");
	assert_string_equal(interp("${SET}${FALLBACK}"), "valuefallback");
}

static void test_compose_interp__unbraced_name_ends_at_first_non_name_char(void **state)
{
	assert_string_equal(interp("$SET.txt"), "value.txt");
	assert_string_equal(interp("$SET/$FALLBACK"), "value/fallback");
	/* SETx is another (unset) variable */
	assert_string_equal(interp("$SETx"), "");
	assert_string_equal(unset_seen, "SETx,");
}

static void test_compose_interp__unset_variable_is_empty_and_reported(void **state)
{
	assert_string_equal(interp("[${MISSING}][$ALSO_MISSING]"), "[][]");
	assert_string_equal(unset_seen, "MISSING,ALSO_MISSING,");
}

static void test_compose_interp__empty_variable_is_not_reported(void **state)
{
	assert_string_equal(interp("[${EMPTY}]"), "[]");
	assert_string_equal(unset_seen, "");
}

static void test_compose_interp__colon_dash_default_when_unset(void **state)
{
	assert_string_equal(interp("${MISSING:-default}"), "default");
	assert_string_equal(unset_seen, "");
}

static void test_compose_interp__colon_dash_default_when_empty(void **state)
{
	assert_string_equal(interp("${EMPTY:-default}"), "default");
}

static void test_compose_interp__colon_dash_keeps_set_value(void **state)
{
	assert_string_equal(interp("${SET:-default}"), "value");
}

static void test_compose_interp__dash_default_only_when_unset(void **state)
{
	assert_string_equal(interp("${MISSING-default}"), "default");
	assert_string_equal(interp("[${EMPTY-default}]"), "[]");
	assert_string_equal(interp("${SET-default}"), "value");
}

static void test_compose_interp__default_may_be_empty_or_contain_spaces(void **state)
{
	assert_string_equal(interp("[${MISSING:-}]"), "[]");
	assert_string_equal(interp("${MISSING:-a b:c}"), "a b:c");
}

static void test_compose_interp__colon_question_errors_when_unset(void **state)
{
	assert_null(interp("${MISSING:?set MISSING in the job's variables}"));
	assert_string_equal(last_err.msg, "required variable MISSING is missing a value: set "
					  "MISSING in the job's variables");
}

static void test_compose_interp__colon_question_errors_when_empty(void **state)
{
	assert_null(interp("${EMPTY:?must not be empty}"));
	assert_string_equal(last_err.msg,
			    "required variable EMPTY is missing a value: must not be empty");
	assert_string_equal(interp("${SET:?unused}"), "value");
}

static void test_compose_interp__question_errors_only_when_unset(void **state)
{
	assert_string_equal(interp("[${EMPTY?unused}]"), "[]");
	assert_null(interp("${MISSING?no value}"));
	assert_string_equal(last_err.msg, "required variable MISSING is missing a value: no value");
}

static void test_compose_interp__question_without_message(void **state)
{
	assert_null(interp("${MISSING:?}"));
	assert_string_equal(last_err.msg, "required variable MISSING is missing a value");
}

static void test_compose_interp__colon_plus_replacement_when_set_and_non_empty(void **state)
{
	assert_string_equal(interp("[${SET:+alt}]"), "[alt]");
	assert_string_equal(interp("[${EMPTY:+alt}]"), "[]");
	assert_string_equal(interp("[${MISSING:+alt}]"), "[]");
}

static void test_compose_interp__plus_replacement_when_set(void **state)
{
	assert_string_equal(interp("[${SET+alt}]"), "[alt]");
	assert_string_equal(interp("[${EMPTY+alt}]"), "[alt]");
	assert_string_equal(interp("[${MISSING+alt}]"), "[]");
}

static void test_compose_interp__double_dollar_is_a_literal_dollar(void **state)
{
	assert_string_equal(interp("$$"), "$");
	assert_string_equal(interp("$$VAR_NOT_INTERPOLATED_BY_COMPOSE"),
			    "$VAR_NOT_INTERPOLATED_BY_COMPOSE");
	assert_string_equal(interp("$${SET}"), "${SET}");
	assert_string_equal(interp("$$$SET"), "$value");
	assert_string_equal(unset_seen, "");
}

static void test_compose_interp__dollar_not_followed_by_a_name_is_kept(void **state)
{
	assert_string_equal(interp("costs $5"), "costs $5");
	assert_string_equal(interp("end$"), "end$");
	assert_string_equal(interp("$-x $ y $."), "$-x $ y $.");
}

static void test_compose_interp__nested_default(void **state)
{
	assert_string_equal(interp("${MISSING:-${FALLBACK}}"), "fallback");
	assert_string_equal(interp("${MISSING:-${ALSO_MISSING:-default}}"), "default");
	assert_string_equal(interp("${MISSING:-pre-$SET-post}"), "pre-value-post");
	assert_string_equal(interp("${MISSING:-$$literal}"), "$literal");
}

static void test_compose_interp__nested_default_is_evaluated_only_when_used(void **state)
{
	assert_string_equal(interp("${SET:-${MISSING:?not evaluated}}"), "value");
	assert_string_equal(interp("${MISSING:+${ALSO:?not evaluated}}"), "");
}

static void test_compose_interp__required_message_is_interpolated(void **state)
{
	assert_null(interp("${MISSING?$SET}"));
	assert_string_equal(last_err.msg, "required variable MISSING is missing a value: value");
}

static void test_compose_interp__substituted_values_are_not_interpolated_again(void **state)
{
	assert_string_equal(interp("${DOLLAR}"), "$SET ${SET}");
}

static void test_compose_interp__unterminated_brace_is_an_error(void **state)
{
	assert_null(interp("image: ${TAG"));
	assert_non_null(strstr(last_err.msg, "missing \"}\""));
	assert_non_null(strstr(last_err.msg, "image: ${TAG"));
	assert_null(interp("${MISSING:-${INNER}"));
}

static void test_compose_interp__empty_or_invalid_name_is_an_error(void **state)
{
	assert_null(interp("${}"));
	assert_non_null(strstr(last_err.msg, "empty variable name"));
	assert_null(interp("${1ABC}"));
	assert_non_null(strstr(last_err.msg, "must start with a letter"));
}

static void test_compose_interp__unsupported_shell_forms_are_errors(void **state)
{
	assert_null(interp("${SET/foo/bar}"));
	assert_non_null(strstr(last_err.msg, "are supported"));
	assert_null(interp("${SET:=x}"));
	assert_null(interp("${#SET}"));
}

static void test_compose_interp__nesting_is_bounded(void **state)
{
	struct buf in = BUF_INIT;
	int i;

	for (i = 0; i < 100; i++)
		buf_puts(&in, "${A:-");
	buf_puts(&in, "x");
	for (i = 0; i < 100; i++)
		buf_puts(&in, "}");
	assert_null(interp(buf_str(&in)));
	assert_non_null(strstr(last_err.msg, "nested too deeply"));
	buf_release(&in);
}

static void test_compose_interp__null_lookup_means_all_unset(void **state)
{
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(compose_interpolate("${X:-d}/$Y", NULL, NULL, &out, &err), 0);
	assert_string_equal(buf_str(&out), "d/");
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_interp__text_without_variables_is_unchanged),
		cmocka_unit_test(test_compose_interp__unbraced_and_braced_names),
		cmocka_unit_test(test_compose_interp__unbraced_name_ends_at_first_non_name_char),
		cmocka_unit_test(test_compose_interp__unset_variable_is_empty_and_reported),
		cmocka_unit_test(test_compose_interp__empty_variable_is_not_reported),
		cmocka_unit_test(test_compose_interp__colon_dash_default_when_unset),
		cmocka_unit_test(test_compose_interp__colon_dash_default_when_empty),
		cmocka_unit_test(test_compose_interp__colon_dash_keeps_set_value),
		cmocka_unit_test(test_compose_interp__dash_default_only_when_unset),
		cmocka_unit_test(test_compose_interp__default_may_be_empty_or_contain_spaces),
		cmocka_unit_test(test_compose_interp__colon_question_errors_when_unset),
		cmocka_unit_test(test_compose_interp__colon_question_errors_when_empty),
		cmocka_unit_test(test_compose_interp__question_errors_only_when_unset),
		cmocka_unit_test(test_compose_interp__question_without_message),
		cmocka_unit_test(
			test_compose_interp__colon_plus_replacement_when_set_and_non_empty),
		cmocka_unit_test(test_compose_interp__plus_replacement_when_set),
		cmocka_unit_test(test_compose_interp__double_dollar_is_a_literal_dollar),
		cmocka_unit_test(test_compose_interp__dollar_not_followed_by_a_name_is_kept),
		cmocka_unit_test(test_compose_interp__nested_default),
		cmocka_unit_test(test_compose_interp__nested_default_is_evaluated_only_when_used),
		cmocka_unit_test(test_compose_interp__required_message_is_interpolated),
		cmocka_unit_test(
			test_compose_interp__substituted_values_are_not_interpolated_again),
		cmocka_unit_test(test_compose_interp__unterminated_brace_is_an_error),
		cmocka_unit_test(test_compose_interp__empty_or_invalid_name_is_an_error),
		cmocka_unit_test(test_compose_interp__unsupported_shell_forms_are_errors),
		cmocka_unit_test(test_compose_interp__nesting_is_bounded),
		cmocka_unit_test(test_compose_interp__null_lookup_means_all_unset),
	};

	return cmocka_run_group_tests_name("compose_interp", tests, NULL, NULL);
}
