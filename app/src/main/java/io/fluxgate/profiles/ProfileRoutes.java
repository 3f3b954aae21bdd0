package io.fluxgate.profiles;

import java.util.Map;

import io.fluxgate.web.KeysetPage;
import org.springdoc.webflux.core.fn.SpringdocRouteBuilder;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.reactive.function.server.RouterFunction;
import org.springframework.web.reactive.function.server.ServerResponse;

import static io.fluxgate.web.ApiDocs.doc;
import static org.springframework.web.reactive.function.server.RequestPredicates.path;

@Configuration(proxyBeanMethods = false)
class ProfileRoutes {

    private static final String TAG = "profiles";

    @Bean
    RouterFunction<ServerResponse> profileRouter(ProfileHandler profiles) {
        // Fixed paths before /{id} so "search" or "top" is never read as an id.
        // One prefix check skips the group for every other path.
        return SpringdocRouteBuilder.route().nest(path("/api/profiles"), () -> SpringdocRouteBuilder.route()
                .GET("", profiles::list, doc(TAG, "listProfiles", "Profiles, a keyset page at a time")
                        .query("cursor", "nextCursor of the previous page").query("status", "only this status")
                        .query("limit", "1..100, default 20").ok(KeysetPage.class).errors(400))
                .POST("", profiles::create, doc(TAG, "createProfile", "A profile owned by the caller")
                        .body(ProfileRequests.Create.class).created(ProfileView.class).errors(409))
                .GET("/search", profiles::search, doc(TAG, "searchProfiles", "Full-text search")
                        .requiredQuery("q", "the words").query("skip", "0..10000").query("limit", "1..100, default 20")
                        .okList(ProfileView.class).errors(400))
                .GET("/near", profiles::near, doc(TAG, "profilesNear", "Profiles nearest a point")
                        .requiredQuery("lng", "-180..180").requiredQuery("lat", "-90..90").query("maxDistance", "metres, default 10000")
                        .query("limit", "1..100, default 20").okList(ProfileView.class).errors(400))
                .GET("/active", profiles::active, doc(TAG, "activeProfiles", "Profiles most recently active")
                        .query("limit", "1..100, default 50").okList(ProfileView.class).errors(400))
                .GET("/stats", profiles::stats, doc(TAG, "profileStats", "Counts and inactivity by status")
                        .okList(ProfileRepository.StatusStats.class))
                .GET("/top", profiles::top, doc(TAG, "topProfiles", "Profiles ranked by activity")
                        .query("limit", "1..100, default 10").okList(ProfileRepository.Ranked.class).errors(400))
                .POST("/bulk", profiles::bulk, doc(TAG, "bulkProfiles", "Up to 1,000 inserts, updates and deletes")
                        .admin().bodyList(ProfileRequests.BulkOperation.class).ok(Map.class).errors(413))
                .POST("/with-account", profiles::createWithAccount, doc(TAG, "createProfileWithAccount",
                                "A profile and an account in one transaction")
                        .body(ProfileRequests.WithAccount.class).answers(201, "Created", Map.class).errors(409))
                .GET("/{id}", profiles::get, doc(TAG, "getProfile", "One profile")
                        .path("id").ok(ProfileView.class).errors(400, 404))
                .PATCH("/{id}", profiles::update, doc(TAG, "updateProfile", "Change a profile (its owner or an admin)")
                        .path("id").body(ProfileRequests.Patch.class).ok(ProfileView.class).errors(403, 404, 409))
                .DELETE("/{id}", profiles::delete, doc(TAG, "deleteProfile", "Delete a profile (its owner or an admin)")
                        .path("id").noContent().errors(400, 403, 404))
                .build())
                .build();
    }
}
