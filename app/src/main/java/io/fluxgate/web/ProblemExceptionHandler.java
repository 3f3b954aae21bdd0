package io.fluxgate.web;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;

import io.r2dbc.spi.R2dbcNonTransientResourceException;
import io.r2dbc.spi.R2dbcTimeoutException;
import io.r2dbc.spi.R2dbcTransientResourceException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;
import reactor.netty.channel.AbortedException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.UnrecognizedPropertyException;

import org.springframework.core.annotation.Order;
import org.springframework.core.io.buffer.DataBufferLimitException;
import org.springframework.dao.DataAccessResourceFailureException;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.dao.QueryTimeoutException;
import org.springframework.dao.TransientDataAccessResourceException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.security.access.AccessDeniedException;
import org.springframework.security.core.AuthenticationException;
import org.springframework.stereotype.Component;
import org.springframework.transaction.CannotCreateTransactionException;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.ServerWebInputException;
import org.springframework.web.server.WebExceptionHandler;

/**
 * Maps every failure to problem details, once. Bodies never carry stack traces, SQL or driver text:
 * unexpected failures are logged here and answered with a generic 500.
 */
@Component
@Order(-2) // ahead of Boot's default error handler
public class ProblemExceptionHandler implements WebExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(ProblemExceptionHandler.class);

    private static final Duration DATABASE_RETRY_AFTER = Duration.ofSeconds(5);
    /** What a framework-raised status says to clients, instead of its reason text. */
    private static final Map<HttpStatus, String> FRAMEWORK_DETAILS = Map.of(
            HttpStatus.NOT_FOUND, "No such resource",
            HttpStatus.METHOD_NOT_ALLOWED, "This method is not allowed here",
            HttpStatus.NOT_ACCEPTABLE, "No acceptable representation; this API answers application/json",
            HttpStatus.UNSUPPORTED_MEDIA_TYPE, "Unsupported content type; send application/json",
            HttpStatus.BAD_REQUEST, "Bad request");

    private final ProblemWriter problems;

    public ProblemExceptionHandler(ProblemWriter problems) {
        this.problems = problems;
    }

    @Override
    public Mono<Void> handle(ServerWebExchange exchange, Throwable ex) {
        if (exchange.getResponse().isCommitted()) {
            return Mono.error(ex);
        }
        if (causeOf(ex, AbortedException.class) != null) {
            // The connection is gone (the client left, or a request timeout closed it): nobody to answer.
            log.debug("Connection closed under {} {}", exchange.getRequest().getMethod(), exchange.getRequest().getPath());
            return Mono.empty();
        }
        if (ex instanceof ApiException api) {
            if (api.retryAfter() != null) {
                retryAfter(exchange, api.retryAfter());
            }
            return problems.write(exchange, api.status(), api.getMessage(), api.errors());
        }
        if (causeOf(ex, DataBufferLimitException.class) != null) {
            log.info("Request body over the limit refused: {} {}", exchange.getRequest().getMethod(),
                    exchange.getRequest().getPath());
            return problems.write(exchange, HttpStatus.CONTENT_TOO_LARGE, RequestSizeLimit.DETAIL, List.of());
        }
        if (ex instanceof ServerWebInputException input) {
            return badInput(exchange, input);
        }
        if (ex instanceof ResponseStatusException status) {
            // The framework's reasons name Java types and echo URLs: say only what the status means.
            HttpStatus code = HttpStatus.valueOf(status.getStatusCode().value());
            return problems.write(exchange, code, FRAMEWORK_DETAILS.getOrDefault(code, code.getReasonPhrase()), List.of());
        }
        if (ex instanceof AuthenticationException) {
            return problems.write(exchange, HttpStatus.UNAUTHORIZED, "Authentication required", List.of());
        }
        if (ex instanceof AccessDeniedException) {
            return problems.write(exchange, HttpStatus.FORBIDDEN, "Access denied", List.of());
        }
        if (isDatabaseUnavailable(ex)) {
            log.warn("Database unavailable for {} {}: {}", exchange.getRequest().getMethod(),
                    exchange.getRequest().getPath(), ex.toString());
            retryAfter(exchange, DATABASE_RETRY_AFTER);
            return problems.write(exchange, HttpStatus.SERVICE_UNAVAILABLE,
                    "The database is unavailable; try again shortly", List.of());
        }
        if (ex instanceof DataIntegrityViolationException) {
            return problems.write(exchange, HttpStatus.CONFLICT, "The request conflicts with existing data", List.of());
        }
        log.error("Unhandled failure on {} {}", exchange.getRequest().getMethod(), exchange.getRequest().getPath(), ex);
        return problems.write(exchange, HttpStatus.INTERNAL_SERVER_ERROR, "Internal server error", List.of());
    }

    private static void retryAfter(ServerWebExchange exchange, Duration after) {
        long seconds = Math.max(1, (after.toMillis() + 999) / 1000);
        exchange.getResponse().getHeaders().set(HttpHeaders.RETRY_AFTER, Long.toString(seconds));
    }

    private Mono<Void> badInput(ServerWebExchange exchange, ServerWebInputException input) {
        JacksonException json = causeOf(input, JacksonException.class);
        if (json instanceof UnrecognizedPropertyException unknown) {
            return problems.write(exchange, HttpStatus.BAD_REQUEST, "Unknown field in request body",
                    List.of(new FieldViolation(path(unknown), "Unknown field")));
        }
        if (json instanceof StreamReadException) {
            return problems.write(exchange, HttpStatus.BAD_REQUEST, "Malformed JSON in request body", List.of());
        }
        if (json != null && !json.getPath().isEmpty()) {
            return problems.write(exchange, HttpStatus.BAD_REQUEST, "Invalid value in request body",
                    List.of(new FieldViolation(path(json), "Invalid value")));
        }
        String reason = input.getReason() != null ? input.getReason() : "Invalid request";
        return problems.write(exchange, HttpStatus.BAD_REQUEST, reason, List.of());
    }

    /** JSON path of the offending value, such as {@code name} or {@code [2].email}. */
    private static String path(JacksonException ex) {
        StringBuilder path = new StringBuilder();
        for (JacksonException.Reference ref : ex.getPath()) {
            if (ref.getPropertyName() != null) {
                if (!path.isEmpty()) {
                    path.append('.');
                }
                path.append(ref.getPropertyName());
            } else if (ref.getIndex() >= 0) {
                path.append('[').append(ref.getIndex()).append(']');
            }
        }
        return path.toString();
    }

    static boolean isDatabaseUnavailable(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof DataAccessResourceFailureException || t instanceof TransientDataAccessResourceException
                    || t instanceof QueryTimeoutException || t instanceof CannotCreateTransactionException
                    || t instanceof R2dbcNonTransientResourceException || t instanceof R2dbcTransientResourceException
                    || t instanceof R2dbcTimeoutException || t instanceof TimeoutException
                    || t instanceof java.net.ConnectException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    private static <T extends Throwable> T causeOf(Throwable ex, Class<T> type) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}
