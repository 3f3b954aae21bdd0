package io.fluxgate.web;

import java.util.List;
import java.util.function.Function;

/**
 * One page of a keyset (cursor) listing. Built from {@code limit + 1} rows: the extra row only tells
 * whether another page exists.
 */
public record KeysetPage<T>(List<T> data, boolean hasNextPage, String nextCursor) {

    public static <T> KeysetPage<T> of(List<T> rows, int limit, Function<T, String> cursorOf) {
        boolean more = rows.size() > limit;
        List<T> data = more ? rows.subList(0, limit) : rows;
        String next = more ? cursorOf.apply(data.get(data.size() - 1)) : null;
        return new KeysetPage<>(List.copyOf(data), more, next);
    }
}
