//! One module per page. Every page but the not-found fallback is a lazy
//! route: its code is a WebAssembly chunk of its own, which the browser fetches
//! when the page is first shown (`cargo leptos build --split` makes the chunks).

/// Declares `$route`, the lazily loaded route that shows the component `$page`.
macro_rules! lazy_page {
    ($route:ident => $page:ident) => {
        pub struct $route;

        #[leptos_router::lazy_route]
        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    };
}

pub mod account;
pub mod grades;
pub mod home;
pub mod login;
pub mod new_post;
pub mod not_found;
pub mod post;
pub mod signup;
