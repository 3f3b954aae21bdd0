package io.fluxgate.web;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import io.swagger.v3.oas.annotations.enums.ParameterIn;
import org.springdoc.core.fn.builders.operation.Builder;

import static org.springdoc.core.fn.builders.apiresponse.Builder.responseBuilder;
import static org.springdoc.core.fn.builders.arrayschema.Builder.arraySchemaBuilder;
import static org.springdoc.core.fn.builders.content.Builder.contentBuilder;
import static org.springdoc.core.fn.builders.parameter.Builder.parameterBuilder;
import static org.springdoc.core.fn.builders.requestbody.Builder.requestBodyBuilder;
import static org.springdoc.core.fn.builders.schema.Builder.schemaBuilder;
import static org.springdoc.core.fn.builders.securityrequirement.Builder.securityRequirementBuilder;

/**
 * The OpenAPI description of one functional route, handed to springdoc's route builder:
 * {@code .GET("/api/posts/{id}", posts::get, doc("posts", "getPost", "One post").path("id").ok(Post.class).errors(404))}.
 * Every operation needs a token unless marked {@link #open()}, and every one may answer 503 (a
 * dependency down or the service overloaded); errors are problem+json bodies ({@link Problem}).
 */
public final class ApiDocs implements Consumer<Builder> {

    public static final String BEARER = "bearer-jwt";
    private static final String JSON = "application/json";
    private static final String PROBLEM_JSON = "application/problem+json";
    private static final Map<Integer, String> ERRORS = Map.of(
            400, "Invalid input; nothing was changed",
            401, "No valid bearer token",
            403, "The token's user may not do this",
            404, "Not found",
            409, "Conflicts with the current state",
            413, "The request body is too large",
            429, "Too many requests; see Retry-After",
            431, "Too many or too large request headers",
            503, "A dependency is down or the service is overloaded; see Retry-After");

    /** The ids of the operations declared open, for the document's {@code security: []} (see ApiDocsConfiguration). */
    private static final Set<String> OPEN = ConcurrentHashMap.newKeySet();

    private final String tag;
    private final String operationId;
    private final String summary;
    private final List<Consumer<Builder>> parts = new ArrayList<>();
    private final Map<Integer, String> errors = new TreeMap<>();
    private boolean open;

    private ApiDocs(String tag, String operationId, String summary) {
        this.tag = tag;
        this.operationId = operationId;
        this.summary = summary;
        errors.put(431, ERRORS.get(431));
        errors.put(503, ERRORS.get(503));
    }

    /** Whether the operation of this id was declared {@link #open()}: only those are published as public. */
    static boolean isOpen(String operationId) {
        return OPEN.contains(operationId);
    }

    public static ApiDocs doc(String tag, String operationId, String summary) {
        return new ApiDocs(tag, operationId, summary);
    }

    /** Needs no token. */
    public ApiDocs open() {
        open = true;
        return this;
    }

    /** For admins only: others get 403. */
    public ApiDocs admin() {
        return errors(403);
    }

    /** A path variable holding text (a MongoDB id, a query name). */
    public ApiDocs path(String name) {
        return parameter(name, ParameterIn.PATH, true, null, "string", null);
    }

    /** A path variable holding a positive numeric id. */
    public ApiDocs pathId(String name) {
        return parameter(name, ParameterIn.PATH, true, null, "integer", "int64");
    }

    public ApiDocs query(String name, String description) {
        return parameter(name, ParameterIn.QUERY, false, description, "string", null);
    }

    public ApiDocs requiredQuery(String name, String description) {
        return parameter(name, ParameterIn.QUERY, true, description, "string", null);
    }

    private ApiDocs parameter(String name, ParameterIn in, boolean required, String description, String type,
            String format) {
        parts.add(op -> op.parameter(parameterBuilder().name(name).in(in).required(required)
                .description(description == null ? "" : description)
                .schema(format == null ? schemaBuilder().type(type) : schemaBuilder().type(type).format(format))));
        return this;
    }

    public ApiDocs body(Class<?> type) {
        parts.add(op -> op.requestBody(requestBodyBuilder().required(true)
                .content(contentBuilder().mediaType(JSON).schema(schemaBuilder().implementation(type)))));
        return errors(400);
    }

    /** A JSON array body of {@code type}. */
    public ApiDocs bodyList(Class<?> type) {
        parts.add(op -> op.requestBody(requestBodyBuilder().required(true)
                .content(contentBuilder().mediaType(JSON).array(arraySchemaBuilder().schema(schemaBuilder().implementation(type))))));
        return errors(400);
    }

    public ApiDocs ok(Class<?> type) {
        return answers(200, "OK", type);
    }

    public ApiDocs okList(Class<?> type) {
        parts.add(op -> op.response(responseBuilder().responseCode("200").description("OK")
                .content(contentBuilder().mediaType(JSON).array(arraySchemaBuilder().schema(schemaBuilder().implementation(type))))));
        return this;
    }

    public ApiDocs created(Class<?> type) {
        return answers(201, "Created", type);
    }

    public ApiDocs noContent() {
        parts.add(op -> op.response(responseBuilder().responseCode("204").description("Done")));
        return this;
    }

    public ApiDocs answers(int status, String description, Class<?> type) {
        parts.add(op -> op.response(responseBuilder().responseCode(Integer.toString(status)).description(description)
                .content(contentBuilder().mediaType(JSON).schema(schemaBuilder().implementation(type)))));
        return this;
    }

    /** A response in another media type (an event stream, say), described in words. */
    public ApiDocs answersIn(String mediaType, int status, String description) {
        parts.add(op -> op.response(responseBuilder().responseCode(Integer.toString(status)).description(description)
                .content(contentBuilder().mediaType(mediaType).schema(schemaBuilder().type("string")))));
        return this;
    }

    public ApiDocs errors(int... statuses) {
        for (int status : statuses) {
            errors.put(status, ERRORS.getOrDefault(status, "Error"));
        }
        return this;
    }

    @Override
    public void accept(Builder operation) {
        operation.operationId(operationId).tag(tag).summary(summary);
        parts.forEach(part -> part.accept(operation));
        Map<Integer, String> answers = new TreeMap<>(errors);
        if (open) {
            OPEN.add(operationId);
        } else {
            operation.security(securityRequirementBuilder().name(BEARER));
            answers.put(401, ERRORS.get(401));
        }
        answers.forEach((status, description) -> operation.response(responseBuilder()
                .responseCode(Integer.toString(status)).description(description)
                .content(contentBuilder().mediaType(PROBLEM_JSON).schema(schemaBuilder().implementation(Problem.class)))));
    }

    /** Every error body (RFC 9457), as {@link ProblemWriter} writes it. */
    public record Problem(String type, String title, int status, String detail, String instance,
            List<FieldViolation> errors) {
    }
}
