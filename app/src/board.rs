//! Public data the pages render: straight from storage, through a [`Board`]
//! the server provides as context. Pages are rendered only on the server
//! (islands fetch what they need over the API), so in the browser's build a
//! source has nothing behind it.

use std::future::Future;

use classboard::api::{Post, PostPage};

/// The server's read access to posts, provided as context while rendering.
#[cfg(feature = "ssr")]
pub trait Board: Send + Sync + 'static {
    fn page(
        &self,
        before: Option<String>,
    ) -> futures::future::BoxFuture<'static, Result<PostPage, String>>;
    fn post(&self, id: String)
    -> futures::future::BoxFuture<'static, Result<Option<Post>, String>>;
}

#[cfg(feature = "ssr")]
pub type SharedBoard = std::sync::Arc<dyn Board>;

/// Where a page's data comes from: the server's [`Board`].
#[derive(Clone)]
pub struct Source(#[cfg(feature = "ssr")] Option<SharedBoard>);

#[cfg(not(feature = "ssr"))]
const RENDERED_ON_THE_SERVER: &str = "Pages are rendered on the server.";

/// Call in a component's body (not inside a fetcher), where the server's
/// context is certainly in reach.
pub fn source() -> Source {
    #[cfg(feature = "ssr")]
    {
        Source(leptos::prelude::use_context::<SharedBoard>())
    }
    #[cfg(not(feature = "ssr"))]
    {
        Source()
    }
}

impl Source {
    /// A page of the feed, newest first.
    pub fn feed(
        self,
        before: Option<String>,
    ) -> impl Future<Output = Result<PostPage, String>> + Send + 'static {
        #[cfg(feature = "ssr")]
        {
            let board = self.0;
            async move {
                match board {
                    Some(board) => board.page(before).await,
                    None => Err("The feed is not available.".into()),
                }
            }
        }
        #[cfg(not(feature = "ssr"))]
        {
            _ = before;
            std::future::ready(Err(RENDERED_ON_THE_SERVER.into()))
        }
    }

    /// One post, or `None` if there is no such post.
    pub fn post(
        self,
        id: String,
    ) -> impl Future<Output = Result<Option<Post>, String>> + Send + 'static {
        #[cfg(feature = "ssr")]
        {
            let board = self.0;
            async move {
                match board {
                    Some(board) => board.post(id).await,
                    None => Err("Posts are not available.".into()),
                }
            }
        }
        #[cfg(not(feature = "ssr"))]
        {
            _ = id;
            std::future::ready(Err(RENDERED_ON_THE_SERVER.into()))
        }
    }
}
