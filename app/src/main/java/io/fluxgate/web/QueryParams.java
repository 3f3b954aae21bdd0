package io.fluxgate.web;

import java.util.List;
import java.util.Optional;

import org.springframework.web.reactive.function.server.ServerRequest;

/** Reads and checks query and path parameters, answering 400 with the parameter's name. */
public final class QueryParams {

    private QueryParams() {
    }

    /** An integer parameter in {@code [min, max]}, or the default when absent. */
    public static int intParam(ServerRequest request, String name, int defaultValue, int min, int max) {
        Optional<String> raw = request.queryParam(name);
        if (raw.isEmpty()) {
            return defaultValue;
        }
        try {
            int value = Integer.parseInt(raw.get().strip());
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException notANumber) {
            // falls through to the 400 below
        }
        throw ApiException.invalid(name, "Must be an integer from " + min + " to " + max);
    }

    /** A required number in {@code [min, max]}. */
    public static double doubleParam(ServerRequest request, String name, double min, double max) {
        String raw = required(request, name);
        try {
            double value = Double.parseDouble(raw);
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException notANumber) {
            // falls through to the 400 below
        }
        throw ApiException.invalid(name, "Must be a number from " + min + " to " + max);
    }

    /** One of the allowed values (compared case-sensitively), or the default when absent. */
    public static String oneOf(ServerRequest request, String name, String defaultValue, List<String> allowed) {
        String value = request.queryParam(name).orElse(defaultValue);
        if (!allowed.contains(value)) {
            throw ApiException.invalid(name, "Must be one of " + String.join(", ", allowed));
        }
        return value;
    }

    /** A positive numeric id from the path; any other text is a 400, not a 500. */
    public static long id(ServerRequest request, String name) {
        return positiveLong(request.pathVariable(name), name);
    }

    /** A positive numeric id from the query, or null when absent. */
    public static Long optionalId(ServerRequest request, String name) {
        return request.queryParam(name).map(raw -> positiveLong(raw, name)).orElse(null);
    }

    private static long positiveLong(String raw, String name) {
        try {
            long id = Long.parseLong(raw.strip());
            if (id > 0) {
                return id;
            }
        } catch (NumberFormatException notANumber) {
            // falls through to the 400 below
        }
        throw ApiException.invalid(name, "Must be a positive integer");
    }

    /** A required, non-blank query parameter. */
    public static String required(ServerRequest request, String name) {
        return request.queryParam(name)
                .map(String::strip)
                .filter(value -> !value.isEmpty())
                .orElseThrow(() -> ApiException.invalid(name, "Required"));
    }
}
