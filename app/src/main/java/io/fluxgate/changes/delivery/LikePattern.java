package io.fluxgate.changes.delivery;

import java.util.HashMap;
import java.util.Map;

/**
 * A {@code like} pattern as a bit-parallel automaton: bit j of the state says "the first j
 * characters of the pattern (not counting %) are matched"; each value character costs a few
 * machine operations, so no pattern can make matching slower than linear.
 */
final class LikePattern {

    private final long[] ascii = new long[128];
    /** Bits of the pattern's {@code _} positions: they take any character. */
    private final long any;
    /** Other literal characters (outside ASCII) and their bits. */
    private final Map<Character, Long> others;
    /** Bit j set when a {@code %} stands before pattern character j (or at the end, j = length). */
    private final long stay;
    private final long accept;

    private LikePattern(long any, long[] ascii, Map<Character, Long> others, long stay, int length) {
        this.any = any;
        System.arraycopy(ascii, 0, this.ascii, 0, 128);
        this.others = others;
        this.stay = stay;
        this.accept = 1L << length;
    }

    static LikePattern compile(String pattern, String field) {
        long[] ascii = new long[128];
        java.util.HashMap<Character, Long> others = new java.util.HashMap<>();
        long any = 0;
        long stay = 0;
        int length = 0;
        for (char c : pattern.toCharArray()) {
            if (c == '%') {
                stay |= 1L << length;
                continue;
            }
            if (length == RowFilter.MAX_LIKE_LENGTH) {
                throw new RowFilter.Invalid("A 'like' pattern on '" + field + "' holds at most " + RowFilter.MAX_LIKE_LENGTH
                        + " characters besides %");
            }
            long bit = 1L << length;
            if (c == '_') {
                any |= bit;
            } else if (c < 128) {
                ascii[c] |= bit;
            } else {
                others.merge(c, bit, (a, b) -> a | b);
            }
            length++;
        }
        return new LikePattern(any, ascii, Map.copyOf(others), stay, length);
    }

    boolean matches(String value) {
        long state = 1L;
        for (int i = 0; i < value.length() && state != 0; i++) {
            char c = value.charAt(i);
            long step = any | (c < 128 ? ascii[c] : others.getOrDefault(c, 0L));
            state = ((state & step) << 1) | (state & stay);
        }
        return (state & accept) != 0;
    }
}
