from lhg_ros.console import format_table


def test_columns_line_up_under_their_headers():
    table = format_table(['name', 'status'], [('rclpy', 'ok'), ('mediapipe', 'missing')])
    header, rule, *rows = table.splitlines()
    assert header.index('status') == rows[0].index('ok') == rows[1].index('missing')
    assert set(rule.replace(' ', '')) == {'-'}


def test_a_row_of_the_wrong_width_is_an_error():
    import pytest

    with pytest.raises(ValueError, match='2 columns'):
        format_table(['a', 'b'], [('only one',)])
