"""Who a face is: embeddings, the enrolled user's store, and the gate that shows only them."""
