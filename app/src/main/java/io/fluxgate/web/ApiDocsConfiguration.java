package io.fluxgate.web;

import java.util.ArrayList;
import java.util.List;

import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.info.License;
import io.swagger.v3.oas.models.media.ObjectSchema;
import io.swagger.v3.oas.models.security.SecurityScheme;
import io.swagger.v3.oas.models.servers.Server;
import org.springdoc.core.customizers.OpenApiCustomizer;
import org.springdoc.core.utils.SpringDocUtils;
import tools.jackson.databind.JsonNode;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The OpenAPI document's header and its bearer-token scheme. The operations come from the routes
 * themselves ({@link ApiDocs}); springdoc serves the document at /v3/api-docs and Swagger UI at
 * /swagger-ui.html.
 */
@Configuration(proxyBeanMethods = false)
class ApiDocsConfiguration {

    static {
        // Free-form JSON (a query plan) is an object to clients; the model reader knows only Jackson 2's tree.
        SpringDocUtils.getConfig().replaceWithSchema(JsonNode.class, new ObjectSchema());
    }

    @Bean
    OpenAPI fluxgateOpenApi() {
        return new OpenAPI()
                // Relative: springdoc would otherwise write each request's Host into the shared document.
                .servers(List.of(new Server().url("/")))
                .info(new Info().title("Fluxgate API").version("1")
                        .license(new License().name("Apache-2.0").identifier("Apache-2.0"))
                        .description("REST endpoints over PostgreSQL, MongoDB and Redis, and the change stream's "
                                + "Server-Sent Events. The WebSocket protocol at /ws/changes is described in the README. "
                                + "Errors are application/problem+json (RFC 9457)."))
                .components(new Components().addSecuritySchemes(ApiDocs.BEARER, new SecurityScheme()
                        .type(SecurityScheme.Type.HTTP).scheme("bearer").bearerFormat("JWT")
                        .description("POST /api/auth/login answers the token")));
    }

    /**
     * An operation declared open ({@link ApiDocs#open()}) says so with an empty requirement list: a
     * reader (or a linter) cannot tell an omission from a public endpoint otherwise. One that
     * declares neither keeps no list, and the document's tests and lint fail on it.
     */
    @Bean
    OpenApiCustomizer publicOperationsSaySo() {
        return openApi -> openApi.getPaths().values().forEach(path -> path.readOperations().forEach(operation -> {
            if (operation.getSecurity() == null && ApiDocs.isOpen(operation.getOperationId())) {
                operation.setSecurity(new ArrayList<>());
            }
        }));
    }
}
