package io.fluxgate.web;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Opaque page cursors over a numeric key. Opaque so clients do not build them by hand and the key
 * can change without breaking the contract.
 */
public final class Cursors {

    private static final String PREFIX = "k1:";

    private Cursors() {
    }

    public static String encode(long key) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + key).getBytes(StandardCharsets.US_ASCII));
    }

    /** The key inside a cursor; a 400 naming {@code field} when the cursor is not one of ours. */
    public static long decode(String cursor, String field) {
        try {
            String text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.US_ASCII);
            if (text.startsWith(PREFIX)) {
                return Long.parseLong(text.substring(PREFIX.length()));
            }
        } catch (IllegalArgumentException malformed) {
            // falls through to the 400 below
        }
        throw ApiException.invalid(field, "Invalid cursor");
    }
}
