from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from catalog.models import Category, Product, ProductStatus, Variant


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name_en = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(DjangoModelFactory[Product]):
    class Meta:
        model = Product

    handle = factory.Sequence(lambda n: f"product-{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")
    name_zh_hant = factory.Sequence(lambda n: f"產品{n}")
    status = ProductStatus.ACTIVE
    option_names = factory.LazyFunction(lambda: ["Size"])


class VariantFactory(DjangoModelFactory[Variant]):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    option_values = factory.Sequence(lambda n: {"Size": f"S{n}"})
    price = Decimal("199.00")
