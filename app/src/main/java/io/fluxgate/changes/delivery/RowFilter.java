package io.fluxgate.changes.delivery;

import java.util.Map;
import java.util.Set;

import io.fluxgate.changes.hub.Route;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;

/**
 * A subscription's row filter, compiled once from the client's JSON and then tested against each
 * event's data without a database read. Fields in one object, and operators on one field, are AND;
 * {@code and}, {@code or} and {@code not} nest.
 *
 * <p>Route.Equality ({@code eq}, {@code neq}, {@code in}) compares JSON values: numbers by value, strings
 * exactly (money is a string on the wire, so {@code "12.50"}). Order ({@code lt}, {@code lte},
 * {@code gt}, {@code gte}) compares numbers, numeric strings and ISO timestamps by value, other
 * strings by character. {@code like} takes {@code %} and {@code _} and runs in time linear in the
 * value, whatever the pattern.
 */
public final class RowFilter {

    public static final int MAX_CONDITIONS = 50;
    public static final int MAX_IN_VALUES = 100;
    public static final int MAX_DEPTH = 8;
    public static final int MAX_STRING = 1000;
    /** Characters of a like pattern other than {@code %}: one bit each in the matcher's state. */
    public static final int MAX_LIKE_LENGTH = 63;
    public static final int MAX_LIKES = 5;

    /** The client's filter could not be accepted; the detail says why, in words a client can act on. */
    public static final class Invalid extends RuntimeException {
        Invalid(String detail) {
            super(detail, null, false, false);
        }
    }

    /** One compiled condition (or combination) on a row; see {@link RowFilterCompiler}. */
    interface Test {
        boolean test(ObjectNode row);
    }

    private final Test root;
    private final Route.Equality equality;
    /** The client's JSON, as compiled: shown to admins and taken apart to explain a miss. */
    private final JsonNode spec;
    private final Set<String> fields;
    private final int conditions;
    private final int likes;

    private RowFilter(Test root, Route.Equality equality, JsonNode spec, Set<String> fields, int conditions, int likes) {
        this.root = root;
        this.equality = equality;
        this.spec = spec;
        this.fields = fields;
        this.conditions = conditions;
        this.likes = likes;
    }

    /** Conditions it tests per event, at most: what a session's budget counts. */
    public int conditions() {
        return conditions;
    }

    public int likes() {
        return likes;
    }

    public boolean test(ObjectNode row) {
        return root.test(row);
    }

    /** An equality every accepted row meets, or null when the filter has none at its top level. */
    public Route.Equality equality() {
        return equality;
    }

    public JsonNode spec() {
        return spec;
    }

    /**
     * The first of its conditions that {@code row} fails, as a filter of its own such as
     * {@code {"authorId":{"eq":5}}}: one operator on one field, or a whole {@code and}, {@code or} or
     * {@code not} clause; null when the row passes. For the delivery inspector, not the hot path: it
     * compiles each part again.
     */
    public String firstFailing(ObjectNode row) {
        if (test(row)) {
            return null;
        }
        for (Map.Entry<String, JsonNode> entry : spec.properties()) {
            String name = entry.getKey();
            boolean clause = name.equals("and") || name.equals("or") || name.equals("not");
            if (clause) {
                ObjectNode part = JsonNodeFactory.instance.objectNode().set(name, entry.getValue());
                if (!compile(part, fields).test(row)) {
                    return part.toString();
                }
                continue;
            }
            for (Map.Entry<String, JsonNode> operator : entry.getValue().properties()) {
                ObjectNode part = JsonNodeFactory.instance.objectNode();
                part.putObject(name).set(operator.getKey(), operator.getValue());
                if (!compile(part, fields).test(row)) {
                    return part.toString();
                }
            }
        }
        return spec.toString();
    }

    @Override
    public String toString() {
        return spec.toString();
    }

    /** Compiles {@code spec} for rows with {@code fields}; throws {@link Invalid} when it cannot be accepted. */
    public static RowFilter compile(JsonNode spec, Set<String> fields) {
        if (spec == null || !spec.isObject()) {
            throw new Invalid("A filter is a JSON object");
        }
        RowFilterCompiler compiler = new RowFilterCompiler(fields);
        Test root = compiler.object(spec, 1);
        return new RowFilter(root, compiler.topEquality(spec), spec, fields, compiler.conditions, compiler.likes);
    }
}
