package io.fluxgate.changes.admin;

import io.fluxgate.changes.hub.Position;
import io.fluxgate.web.ApiException;
import io.fluxgate.web.QueryParams;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;
import reactor.core.publisher.Mono;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerRequest;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;

/** The change stream's admin pages (admin-only under /api/admin, see the security rules). */
@Configuration(proxyBeanMethods = false)
public class ChangeInspectorRoutes {

    private static final String TAG = "admin";
    private static final String TOTAL_COUNT = "X-Total-Count";

    @Bean
    RouterFunction<ServerResponse> changeInspectorRouter(ChangeInspector inspector) {
        return SpringdocRouteBuilder.route()
                .GET("/api/admin/changes/sessions", request -> sessions(inspector, request),
                        doc(TAG, "changeSessions", "The change-stream sessions open on this replica, oldest first; "
                                + "X-Total-Count says how many matched before the limit")
                                .admin().query("userId", "only this user's sessions")
                                .query("limit", "1.." + ChangeInspector.MAX_SESSIONS + ", default 200")
                                .okList(ChangeInspector.SessionView.class).errors(400))
                .GET("/api/admin/changes/explain", request -> explain(inspector, request),
                        doc(TAG, "explainDelivery", "Whether a user's sessions on this replica, as subscribed now, "
                                + "would receive a logged change, and which rule or filter condition decided")
                                .admin().requiredQuery("cursor", "the change's cursor").requiredQuery("userId", "the user's id")
                                .ok(ChangeInspector.Explanation.class).errors(400, 404))
                .build();
    }

    private static Mono<ServerResponse> sessions(ChangeInspector inspector, ServerRequest request) {
        Long userId = QueryParams.optionalId(request, "userId");
        int limit = QueryParams.intParam(request, "limit", 200, 1, ChangeInspector.MAX_SESSIONS);
        ChangeInspector.Sessions open = inspector.sessions(userId, limit);
        // An array, as the contract says; how many matched before the limit rides in a header.
        return ServerResponse.ok().header(TOTAL_COUNT, Integer.toString(open.total())).bodyValue(open.sessions());
    }

    private static Mono<ServerResponse> explain(ChangeInspector inspector, ServerRequest request) {
        Position position = Position.fromCursor(QueryParams.required(request, "cursor"));
        if (position == null) {
            throw ApiException.invalid("cursor", "Not a change-stream cursor");
        }
        Long userId = QueryParams.optionalId(request, "userId");
        if (userId == null) {
            throw ApiException.invalid("userId", "Required");
        }
        return inspector.explain(position, userId).flatMap(explanation -> ServerResponse.ok().bodyValue(explanation));
    }
}
